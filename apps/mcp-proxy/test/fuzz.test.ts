import { answerProblems, hostileBodies, runAbuse } from '@immune/runtime/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWireFixture, type WireFixture } from './fixtures/wire-server.js';
import { type Harness, startHarness } from './harness.js';

/**
 * Issue 19: the MCP proxy fuzzed with hostile JSON-RPC bodies and headers, and abused at the socket level, on
 * real NATS. Never a 5xx of its own (502/504 only when the MCP server fails, docs/mcp-proxy.md); every refusal
 * JSON naming the problem (a JSON-RPC error, or the runtime's error); a normal tools/call keeps being served.
 */

const RUNS = 400;
const LIMITS = {
  HTTP_MAX_HEADER_BYTES: '8192',
  HTTP_HEADERS_TIMEOUT_MS: '2000',
  HTTP_REQUEST_TIMEOUT_MS: '3000',
  HTTP_MAX_CONNECTIONS: '1000',
  BODY_LIMIT_BYTES: '65536',
};
const HEADERS = { accept: 'application/json, text/event-stream', 'x-immune-agent': 'fuzzer' };
const call = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'x' } },
};
const VALID: ReadonlyArray<Record<string, unknown>> = [
  call,
  {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
  },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 2, method: 'tools/list' },
];

let wire: WireFixture;
let h: Harness;
beforeAll(async () => {
  wire = await startWireFixture();
  h = await startHarness({
    nats: true,
    env: { ...LIMITS, MCP_UPSTREAM_URL: wire.url, MCP_UPSTREAM_NAME: 'wire' },
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
  await wire?.close();
});

const probe = async () => {
  const response = await fetch(`${h.url}/wire`, {
    method: 'POST',
    headers: { ...HEADERS, 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify(call),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`probe answered ${response.status}: ${text}`);
};

describe('the MCP proxy', () => {
  const headerValue = fc.oneof(
    fc.constantFrom('2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28', 'garbage', ''),
    fc.string({ maxLength: 30 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
  );

  it(`answers ${RUNS} hostile JSON-RPC bodies and headers without a 5xx of its own`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...VALID).chain((valid) => hostileBodies(valid)),
        fc.constantFrom('POST', 'GET', 'DELETE'),
        headerValue,
        fc.option(headerValue, { nil: undefined }),
        fc.option(headerValue, { nil: undefined }),
        async (body, method, version, session, mcpMethod) => {
          const headers: Record<string, string> = {
            ...HEADERS,
            ...(body.contentType === undefined ? {} : { 'content-type': body.contentType }),
            ...(version === '' ? {} : { 'mcp-protocol-version': version }),
            ...(session === undefined || session === '' ? {} : { 'mcp-session-id': session }),
            ...(mcpMethod === undefined || mcpMethod === '' ? {} : { 'mcp-method': mcpMethod }),
          };
          const response = await fetch(`${h.url}/wire`, {
            method,
            headers,
            ...(method === 'POST' ? { body: body.payload } : {}),
          });
          // A success may be a stream that stays open (GET, SSE): its status is what is judged, not its end.
          const text = response.status < 400 ? '' : await response.text();
          if (response.status < 400) await response.body?.cancel();
          const problems = answerProblems(
            response.status,
            response.headers.get('content-type'),
            text,
            [502, 504],
          );
          expect(problems, `${method} ${body.kind} ${body.contentType}`).toEqual([]);
        },
      ),
      { numRuns: RUNS, seed: 1904 },
    );
    await probe();
  }, 300_000);

  it('survives raw-socket abuse and keeps proxying tool calls', async () => {
    const report = await runAbuse(
      {
        host: '127.0.0.1',
        port: Number(new URL(h.url).port),
        method: 'POST',
        path: '/wire',
        headers: { ...HEADERS, 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify(call),
        maxHeaderBytes: Number(LIMITS.HTTP_MAX_HEADER_BYTES),
        headersTimeoutMs: Number(LIMITS.HTTP_HEADERS_TIMEOUT_MS),
        idleConnections: 200,
      },
      probe,
    );
    expect(report.probesDuring).toBeGreaterThan(0);
  }, 120_000);
});
