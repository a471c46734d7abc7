import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sdk1Fixture, startSdk1Fixture } from './fixtures/sdk1-server.js';
import { type Harness, startHarness, vitalsWhere } from './harness.js';

let fixture: Sdk1Fixture;
let harness: Harness;

beforeAll(async () => {
  fixture = await startSdk1Fixture();
  harness = await startHarness({
    env: {
      MCP_UPSTREAM_URL: fixture.url,
      MCP_UPSTREAM_NAME: 'fixture',
      MCP_UPSTREAMS: JSON.stringify([{ name: 'docs', prefix: '/docs', url: `${fixture.url}/legacy` }]),
    },
  });
});
afterAll(async () => {
  await harness?.close();
  await fixture?.close();
});

type Kind = 'stateful' | 'stateless' | 'legacy';

async function connect(kind: Kind, base: string, agent: string): Promise<Client> {
  const client = new Client(
    { name: 'compat-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
    role: 'assistant',
    model: 'test-model',
    content: { type: 'text', text: `re ${JSON.stringify(request.params.messages[0]?.content)}`.slice(0, 40) },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada' } }));
  const headers = { 'x-immune-agent': agent };
  const transport =
    kind === 'legacy'
      ? new SSEClientTransport(new URL(`${base}/sse`), { requestInit: { headers } })
      : new StreamableHTTPClientTransport(new URL(`${base}/${kind}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}

/** Server-to-client requests (sampling, elicitation) need a stream: not in stateless JSON mode. */
async function scenario(client: Client, serverRequests: boolean) {
  const progress: number[] = [];
  const events: string[] = [];
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
  const fail = await client.callTool({ name: 'fail', arguments: {} });
  const withProgress = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
    onprogress: (p) => {
      progress.push(p.progress);
      events.push('progress');
    },
  });
  events.push('result');
  const sampled = serverRequests
    ? await client.callTool({ name: 'sample', arguments: { prompt: 'capital of France?' } })
    : undefined;
  const elicited = serverRequests ? await client.callTool({ name: 'elicit', arguments: {} }) : undefined;
  const unknown = await client.callTool({ name: 'nope', arguments: {} }).then(
    (r) => ({ result: r }),
    (e: Error) => ({ error: e.message }),
  );
  return { tools, echo, fail, withProgress, progress, events, sampled, elicited, unknown };
}

describe('@modelcontextprotocol/sdk 1.x through the proxy', () => {
  for (const kind of ['stateful', 'stateless', 'legacy'] as const) {
    it(`${kind}: the same results direct and through the proxy, one vital per tools/call`, {
      timeout: 60_000,
    }, async () => {
      const serverRequests = kind !== 'stateless';
      const agent = `sdk1-${kind}`;
      const directBase = kind === 'legacy' ? `${fixture.url}/legacy` : fixture.url;
      const proxiedBase = kind === 'legacy' ? `${harness.url}/docs` : harness.url;
      const direct = await connect(kind, directBase, agent);
      const viaDirect = await scenario(direct, serverRequests);
      await direct.close();
      const proxied = await connect(kind, proxiedBase, agent);
      const viaProxy = await scenario(proxied, serverRequests);
      await proxied.close();

      expect(viaProxy).toEqual(viaDirect);
      // Progress needs a stream: not in stateless JSON mode; the SDK's legacy SSE transport drops it, direct too.
      if (kind === 'stateful')
        expect(viaProxy.events).toEqual(['progress', 'progress', 'progress', 'result']);
      if (serverRequests) expect(viaProxy.elicited?.content).toEqual([{ type: 'text', text: 'hello Ada' }]);

      const calls = serverRequests ? 6 : 4;
      const vitals = await vitalsWhere(harness, calls, (v) => v.agent_id === agent);
      expect(vitals).toHaveLength(calls);
      const byTool = Object.fromEntries(vitals.map((v) => [v.tool_name, v]));
      expect(byTool.echo).toMatchObject({
        source: 'mcp',
        kind: 'tool',
        success: true,
        tool_calls: 1,
        mcp_server: kind === 'legacy' ? 'docs' : 'fixture',
      });
      expect(byTool.fail).toMatchObject({ success: false, error_type: 'tool_error' });
      // SDK 1.x answers an unknown tool with an error result, not a JSON-RPC error.
      expect(byTool.nope).toMatchObject({ success: false, error_type: 'tool_error' });
      for (const tool of serverRequests ? ['progress', 'sample', 'elicit'] : ['progress'])
        expect(byTool[tool]).toMatchObject({ success: true });
      expect(byTool.echo?.request_hash).toMatch(/^[0-9a-f]{32}$/);
    });
  }
});
