import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWireFixture, type WireFixture } from './fixtures/wire-server.js';
import { type Harness, startHarness, vitalsWhere, waitFor } from './harness.js';

let wire: WireFixture;
let harness: Harness;

beforeAll(async () => {
  wire = await startWireFixture();
  harness = await startHarness({
    env: {
      MCP_UPSTREAM_URL: wire.url,
      MCP_UPSTREAM_NAME: 'wire',
      // A short idle limit for JSON bodies: SSE streams must not be subject to it.
      MCP_PROXY_UPSTREAM_BODY_TIMEOUT_MS: '200',
      MCP_PROXY_CLIENT_STALL_MS: '500',
      BODY_LIMIT_BYTES: '65536',
    },
  });
});
afterAll(async () => {
  await harness?.close();
  await wire?.close();
});

const call = (id: string | number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/wire`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function bytesOf(response: Response) {
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: Buffer.from(await response.arrayBuffer()).toString('utf8'),
  };
}

describe('wire level', () => {
  it('passes bytes through unchanged, direct and proxied alike', async () => {
    for (const body of [
      call(1, 'echo', { text: 'héllo' }),
      call(2, 'echo', { text: 'x', sse: true }),
      [call(3, 'echo', { text: 'a' }), { jsonrpc: '2.0', method: 'notifications/progress', params: {} }],
      '{"jsonrpc": "2.0", "id": ',
    ]) {
      const headers = { 'x-immune-agent': 'bytes' };
      const direct = await bytesOf(await post(wire.url, body, headers));
      const proxied = await bytesOf(await post(harness.url, body, headers));
      expect(proxied).toEqual(direct);
    }
  });

  it('a batch: one vital per tools/call, several responses in one SSE event', async () => {
    const agent = 'batcher';
    const response = await post(
      harness.url,
      [
        call('a', 'echo', { text: '1' }),
        call('b', 'fail'),
        call('c', 'boom'),
        { jsonrpc: '2.0', id: 'd', method: 'ping' },
      ],
      { 'x-immune-agent': agent },
    );
    expect((await response.text()).startsWith(': batch\nretry: 500\n\n')).toBe(true);
    const vitals = await vitalsWhere(harness, 3, (v) => v.agent_id === agent);
    expect(vitals.map((v) => [v.tool_name, v.success, v.error_type]).sort()).toEqual([
      ['boom', false, 'jsonrpc_-32000'],
      ['echo', true, undefined],
      ['fail', false, 'tool_error'],
    ]);
  });

  it('"1" and 1 in flight together, and one id in two sessions, are different calls', async () => {
    const agent = 'ids';
    const headers = { 'x-immune-agent': agent, 'mcp-session-id': 's1' };
    await Promise.all([
      post(harness.url, call('1', 'echo', { text: 'string', ms: 80 }), headers).then((r) => r.text()),
      post(harness.url, call(1, 'fail', { ms: 10 }), headers).then((r) => r.text()),
      post(harness.url, call(1, 'boom', { ms: 40 }), { ...headers, 'mcp-session-id': 's2' }).then((r) =>
        r.text(),
      ),
    ]);
    const vitals = await vitalsWhere(harness, 3, (v) => v.agent_id === agent);
    expect(vitals.map((v) => [v.tool_name, v.success]).sort()).toEqual([
      ['boom', false],
      ['echo', true],
      ['fail', false],
    ]);
  });

  it('a silent GET stream outlives the JSON idle limit and still delivers', async () => {
    const controller = new AbortController();
    const response = await fetch(`${harness.url}/wire`, {
      headers: { accept: 'text/event-stream', 'x-immune-agent': 'listener' },
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe('id: 0\nretry: 1000\ndata: \n\n');
    // Five times the configured idle limit of a JSON body, in silence.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    wire.push({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const next = new TextDecoder().decode((await reader.read()).value);
    expect(next).toContain('list_changed');
    controller.abort();
  });

  it('a tool answered with JSON after a long run is not cut by the body idle limit', async () => {
    const agent = 'slowpoke';
    const response = await post(harness.url, call(9, 'echo', { text: 'late', ms: 1500 }), {
      'x-immune-agent': agent,
    });
    // Headers come only with the body here, so the headers timeout (long) is what applies: the call succeeds.
    expect(response.status).toBe(200);
    await response.text();
    const [vital] = await vitalsWhere(harness, 1, (v) => v.agent_id === agent);
    expect(vital?.success).toBe(true);
  });
});

describe('bad input', () => {
  it('an oversized body gets 413 with a JSON-RPC error naming the limit', async () => {
    const response = await post(harness.url, call(1, 'echo', { text: 'x'.repeat(70_000) }));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('65536') } });
  });

  it('an unmounted path and a dot-segment path get a clear JSON error', async () => {
    const harness2 = await startHarness({
      env: { MCP_UPSTREAMS: JSON.stringify([{ name: 'w', prefix: '/w', url: wire.url }]) },
    });
    try {
      const missing = await fetch(`${harness2.url}/elsewhere`, { method: 'POST', body: '{}' });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({
        error: { message: expect.stringContaining('/elsewhere') },
      });
      const escaped = await fetch(`${harness2.url}/w/%2e%2e/admin`, { method: 'POST', body: '{}' });
      expect(escaped.status).toBe(404);
    } finally {
      await harness2.close();
    }
  });

  it('a client that never reads is cut off; the proxy keeps serving', async () => {
    // Answers bigger than the socket buffers; the client reads nothing.
    const big = call(77, 'echo', { text: 'y'.repeat(60_000) });
    const sockets: Array<() => void> = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const req = httpRequest(`${harness.url}/wire`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-immune-agent': 'never-reads' },
        });
        req.on('response', (res) => {
          res.pause();
          sockets.push(() => res.destroy());
          resolve();
        });
        req.end(JSON.stringify(big));
      });
    }
    const health = await fetch(`${harness.url}/healthz`);
    expect(health.status).toBe(200);
    for (const close of sockets) close();
  });

  it('fuzzed bodies and headers never crash the proxy (property)', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .jsonValue()
            .map((v) => JSON.stringify([v, { jsonrpc: '2.0', id: v, method: 'tools/call', params: v }])),
          fc
            .record({ id: fc.oneof(fc.integer(), fc.string()), method: fc.string(), params: fc.jsonValue() })
            .map((r) => JSON.stringify({ jsonrpc: '2.0', ...r })),
        ),
        fc.constantFrom('2025-03-26', '2025-11-25', '2026-07-28', 'garbage'),
        async (body, version) => {
          const response = await post(harness.url, body, {
            'mcp-protocol-version': version,
            'mcp-method': 'tools/call',
            'mcp-name': '=?base64?!!?=',
            'mcp-session-id': 'fuzz',
          });
          await response.arrayBuffer();
          expect(response.status).toBeGreaterThanOrEqual(200);
        },
      ),
      { seed: 1717, numRuns: 100 },
    );
    expect((await fetch(`${harness.url}/healthz`)).status).toBe(200);
  });
});

describe('2026-07-28 header mirroring', () => {
  it('refuses a Mcp-Name that does not match the body, as a conforming server does', async () => {
    const response = await post(harness.url, call(5, 'echo', { text: 'x' }), {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'other',
      'x-immune-agent': 'mirror',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ id: 5, error: { code: -32020 } });
    const ok = await post(harness.url, call(6, 'echo', { text: 'x' }), {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=`,
      'x-immune-agent': 'mirror',
    });
    expect(ok.status).toBe(200);
    await waitFor(() => harness.vitals.some((v) => v.agent_id === 'mirror' && v.success));
  });
});
