import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AppHarness, reported, startApp } from './harness.js';

let app: AppHarness;
beforeAll(async () => {
  app = await startApp();
}, 60_000);
afterAll(async () => {
  await app?.close();
});

/** Any JSON value in a field's place: the most likely way to reach an unguarded code path. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1.5, 2 ** 31, 2 ** 53, -0, 1e308, '', 'x'.repeat(300), null, true, [], {}),
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const fields = [
  'id',
  'agent_id',
  'ts',
  'source',
  'kind',
  'model',
  'latency_ms',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'tool_calls',
  'retries',
  'cost',
  'success',
  'error_type',
  'tool_name',
  'vitals',
  '__proto__',
  'constructor',
];

/** A valid vital with some fields replaced by anything, some removed, and maybe an unknown one added. */
const mutatedVital = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.dictionary(fc.constantFrom(...fields), anyValue, { maxKeys: 4 }),
    fc.subarray(fields, { maxLength: 3 }),
  )
  .map(([agent, replaced, removed]) => {
    const vital: Record<string, unknown> = { ...reported(agent), ...replaced };
    for (const field of removed) delete vital[field];
    return vital;
  });

const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null'),
  mutatedVital.map((v) => JSON.stringify(v)),
  fc.array(mutatedVital, { maxLength: 8 }).map((vs) => JSON.stringify(vs)),
  fc.array(mutatedVital, { maxLength: 8 }).map((vs) => JSON.stringify({ vitals: vs })),
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 50 }).map((s) => `{"vitals": [${s}`),
);

it('never answers 5xx to any ingest body, and every refusal is a JSON error with a code', async () => {
  await fc.assert(
    fc.asyncProperty(body, async (payload) => {
      const response = await app.server.inject({
        method: 'POST',
        url: '/api/v1/ingest',
        headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBeLessThan(500);
      if (response.statusCode >= 400) {
        const error = (response.json() as { error: { code: string; message: string } }).error;
        expect(error.code).toMatch(/^[A-Z_]+$/);
        expect(error.message.length).toBeGreaterThan(0);
      } else {
        expect(response.statusCode).toBe(202);
      }
    }),
    { numRuns: 400 },
  );
}, 120_000);
