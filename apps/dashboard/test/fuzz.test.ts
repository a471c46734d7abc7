import { answerProblems, hostileBodies, runAbuse } from '@immune/runtime/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHarness, jsonOf, OPERATOR_TOKEN, startDashboardHarness } from './harness.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness({
    DASHBOARD_LOGIN_RATE_PER_MINUTE: '10000',
    HTTP_MAX_HEADER_BYTES: '8192',
    HTTP_HEADERS_TIMEOUT_MS: '2000',
    HTTP_REQUEST_TIMEOUT_MS: '3000',
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

/** Every route that takes a body, with a valid body each, so mutations start close to something accepted. */
const ROUTES: ReadonlyArray<{ path: string; valid: Record<string, unknown> }> = [
  { path: '/api/session', valid: { token: OPERATOR_TOKEN } },
  { path: '/api/decisions/approve', valid: { agent_id: 'a-1', note: 'ok' } },
  { path: '/api/decisions/reject', valid: { approval_ids: ['x'] } },
  { path: '/api/decisions/heal', valid: { all: true } },
  { path: '/api/decisions/approve/preview', valid: { all: true } },
  { path: '/api/feedback', valid: { agent_id: 'a-1', true_cause: 'prompt_drift' } },
  { path: '/api/agents/a-1/quarantine', valid: { reason: 'odd' } },
  { path: '/api/agents/a-1/release', valid: {} },
];
const FIELDS = [
  'token',
  'agent_id',
  'approval_id',
  'infection_id',
  'approval_ids',
  'all',
  'note',
  'true_cause',
  'reason',
  'operator',
  '__proto__',
  'constructor',
];

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, '', 'x'.repeat(3000), null, true, [], {}, ['a', 'a']),
  fc.string(),
);

const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc
    .tuple(
      fc.constantFrom(...ROUTES.map((route) => route.valid)),
      fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 3 }),
      fc.subarray(FIELDS, { maxLength: 2 }),
    )
    .map(([valid, replaced, removed]) => {
      const mutated: Record<string, unknown> = { ...valid, ...replaced };
      for (const field of removed) delete mutated[field];
      return JSON.stringify(mutated);
    }),
  fc.string({ maxLength: 100 }),
);

describe('bad input', () => {
  it('never answers 5xx to a fuzzed body on any route, and every refusal is JSON naming a code', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), body, fc.boolean(), async (route, payload, asJson) => {
        const response = await fetch(`${h.url}${route.path}`, {
          method: 'POST',
          headers: {
            authorization: route.path === '/api/session' ? '' : `Bearer ${OPERATOR_TOKEN}`,
            'content-type': asJson ? 'application/json' : 'text/plain',
            origin: h.origin,
          },
          body: payload,
        });
        expect(response.status, `${route.path} ${payload}`).toBeLessThan(500);
        if (response.status >= 400) {
          const error = (await jsonOf(response)).error;
          expect(error.code).toMatch(/^[A-Z_]+$/);
          expect(error.message.length).toBeGreaterThan(0);
        } else await response.arrayBuffer();
      }),
      { numRuns: 300, seed: 16 },
    );
    // 300 requests, many of them reaching the healer and PostgreSQL: seconds on a loaded machine, not a hang.
  }, 60_000);

  it('names the offending field', async () => {
    const post = async (path: string, payload: unknown) => {
      const response = await fetch(`${h.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      return { status: response.status, error: (await jsonOf(response)).error };
    };
    const typed = await post('/api/decisions/approve', { agent_id: 5 });
    expect(typed.status).toBe(400);
    expect(typed.error.message).toContain('body.agent_id');
    const unknown = await post('/api/decisions/approve', { agent_id: 'a', operator: 'mallory' });
    expect(unknown.status).toBe(400);
    expect(unknown.error.message).toContain('body.operator');
    const none = await post('/api/decisions/approve', { note: 'hi' });
    expect(none.status).toBe(400);
    expect(none.error.message).toContain('exactly one');
    const cause = await post('/api/feedback', { agent_id: 'a', true_cause: 'gremlins' });
    expect(cause.status).toBe(400);
    expect(cause.error.message).toContain('body.true_cause');
    const decision = await post('/api/decisions/explode', { all: true });
    expect(decision.status).toBe(400);
    expect(decision.error.message).toContain('params.decision');
  });
});

describe('hostile bodies and raw sockets (issue 19)', () => {
  const HOSTILE_RUNS = 300;
  it(`answers ${HOSTILE_RUNS} hostile bodies (deep nesting, huge numbers, invalid UTF-8, wrong types) with JSON 4xx`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...ROUTES)
          .chain((route) => fc.record({ route: fc.constant(route), body: hostileBodies(route.valid) })),
        async ({ route, body }) => {
          const response = await fetch(`${h.url}${route.path}`, {
            method: 'POST',
            headers: {
              ...(route.path === '/api/session' ? {} : { authorization: `Bearer ${OPERATOR_TOKEN}` }),
              ...(body.contentType === undefined ? {} : { 'content-type': body.contentType }),
              origin: h.origin,
            },
            // The DOM typing of fetch wants an ArrayBuffer-backed view; this one is.
            body: body.payload as Uint8Array<ArrayBuffer>,
          });
          const text = await response.text();
          expect(
            answerProblems(response.status, response.headers.get('content-type'), text),
            `${route.path} ${body.kind}`,
          ).toEqual([]);
        },
      ),
      { numRuns: HOSTILE_RUNS, seed: 1905 },
    );
  }, 300_000);

  it('survives raw-socket abuse and keeps serving the API', async () => {
    const report = await runAbuse(
      {
        host: '127.0.0.1',
        port: Number(new URL(h.url).port),
        method: 'POST',
        path: '/api/decisions/approve/preview',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${OPERATOR_TOKEN}`,
          origin: h.origin,
        },
        body: JSON.stringify({ all: true }),
        maxHeaderBytes: 8192,
        headersTimeoutMs: 2000,
        idleConnections: 200,
      },
      async () => {
        const response = await fetch(`${h.url}/api/session`, {
          headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
        });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`probe answered ${response.status}`);
      },
    );
    expect(report.probesDuring).toBeGreaterThan(0);
  }, 120_000);
});
