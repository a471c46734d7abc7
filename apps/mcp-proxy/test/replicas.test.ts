import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sdk1Fixture, startSdk1Fixture } from './fixtures/sdk1-server.js';
import { type Harness, startHarness, vitalsWhere } from './harness.js';

let fixture: Sdk1Fixture;
let harness: Harness;

beforeAll(async () => {
  fixture = await startSdk1Fixture();
  harness = await startHarness({ nats: true, replicas: 2, env: { MCP_UPSTREAM_URL: fixture.url } });
});
afterAll(async () => {
  await harness?.close();
  await fixture?.close();
});

/** A load balancer in a fetch: POSTs alternate between the replicas, GETs (resumption) go to the second. */
function balanced(urls: string[]) {
  let next = 0;
  const seen: string[] = [];
  const fetchVia: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const replica = method === 'GET' ? (urls[1] as string) : (urls[next++ % urls.length] as string);
    seen.push(`${method} ${replica === urls[0] ? 'A' : 'B'}`);
    return fetch(`${replica}${url.pathname}${url.search}`, init);
  };
  return { fetchVia, seen };
}

describe('two replicas, one session', () => {
  it('serves a stateful session across replicas; a result resumed on the other replica yields one vital', async () => {
    const agent = 'roaming';
    const lb = balanced(harness.replicas.map((r) => r.url));
    const client = new Client({ name: 'replicas-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${harness.url}/stateful/mcp`), {
      requestInit: { headers: { 'x-immune-agent': agent } },
      fetch: lb.fetchVia,
      reconnectionOptions: {
        initialReconnectionDelay: 50,
        maxReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 20,
      },
    });
    await client.connect(transport);
    const echoes = [];
    for (let i = 0; i < 4; i++)
      echoes.push(await client.callTool({ name: 'echo', arguments: { text: `n${i}` } }));
    // The server closes this POST stream after its priming event; the client resumes with GET + Last-Event-ID.
    const polled = await client.callTool({ name: 'poll', arguments: { ms: 300 } });
    await client.close();

    expect(echoes.map((r) => (r.content as Array<{ text: string }>)[0]?.text)).toEqual([
      'echo: n0',
      'echo: n1',
      'echo: n2',
      'echo: n3',
    ]);
    expect(polled.content).toEqual([{ type: 'text', text: 'polled after 300' }]);
    expect(lb.seen.filter((s) => s.startsWith('POST A')).length).toBeGreaterThan(0);
    expect(lb.seen.filter((s) => s.startsWith('POST B')).length).toBeGreaterThan(0);
    expect(lb.seen).toContain('GET B');

    const vitals = await vitalsWhere(harness, 5, (v) => v.agent_id === agent);
    // Give a duplicate every chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mine = harness.vitals.filter((v) => v.agent_id === agent);
    expect(mine).toHaveLength(5);
    expect(mine.filter((v) => v.tool_name === 'poll')).toEqual([
      expect.objectContaining({ success: true, mcp_server: 'default' }),
    ]);
    expect(vitals.every((v) => v.success)).toBe(true);
  });
});
