import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Transport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startV2Fixture } from './fixtures/v2-server.js';
import { type Harness, startHarness, vitalsWhere } from './harness.js';

let fixture: { url: string; close(): Promise<void> };
let harness: Harness;

beforeAll(async () => {
  fixture = await startV2Fixture();
  harness = await startHarness({ env: { MCP_UPSTREAM_URL: fixture.url, MCP_UPSTREAM_NAME: 'v2' } });
});
afterAll(async () => {
  await harness?.close();
  await fixture?.close();
});

async function v2Client(base: string, agent: string): Promise<Client> {
  const client = new Client(
    { name: 'v2-compat', version: '2.0.0' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { ok: true } }));
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { 'x-immune-agent': agent } },
    }),
  );
  return client;
}

async function scenario(
  client: {
    listTools(): Promise<unknown>;
    callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  },
  mrtr: boolean,
) {
  return {
    tools: await client.listTools(),
    echo: await client.callTool({ name: 'echo', arguments: { text: 'v2' } }),
    fail: await client.callTool({ name: 'fail', arguments: {} }),
    confirm: mrtr ? await client.callTool({ name: 'confirm', arguments: { action: 'deploy' } }) : undefined,
  };
}

describe('v2 SDK (@modelcontextprotocol/client + server, 2026-07-28) through the proxy', () => {
  it('the same results direct and through the proxy; input_required rounds leave no vital', {
    timeout: 60_000,
  }, async () => {
    const agent = 'v2-agent';
    const direct = await v2Client(fixture.url, agent);
    const viaDirect = await scenario(direct, true);
    await direct.close();
    const proxied = await v2Client(harness.url, agent);
    const viaProxy = await scenario(proxied, true);
    await proxied.close();
    expect(viaProxy).toEqual(viaDirect);
    expect((viaProxy.confirm as { content: unknown }).content).toEqual([
      { type: 'text', text: 'deploy: done' },
    ]);
    const vitals = await vitalsWhere(harness, 3, (v) => v.agent_id === agent);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(harness.vitals.filter((v) => v.agent_id === agent)).toHaveLength(3);
    expect(vitals.map((v) => [v.tool_name, v.success]).sort()).toEqual([
      ['confirm', true],
      ['echo', true],
      ['fail', false],
    ]);
  });

  it('a 1.x client reaches the v2 server through the proxy (2025 stateless fallback)', {
    timeout: 60_000,
  }, async () => {
    const agent = 'v1-to-v2';
    const connect = async (base: string) => {
      const client = new Client1({ name: 'v1', version: '1.0.0' });
      await client.connect(
        new Transport1(new URL(`${base}/mcp`), { requestInit: { headers: { 'x-immune-agent': agent } } }),
      );
      return client;
    };
    const direct = await connect(fixture.url);
    const viaDirect = await scenario(direct, false);
    await direct.close();
    const proxied = await connect(harness.url);
    const viaProxy = await scenario(proxied, false);
    await proxied.close();
    expect(viaProxy).toEqual(viaDirect);
    await vitalsWhere(harness, 2, (v) => v.agent_id === agent);
  });
});
