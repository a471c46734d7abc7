import { gzipSync } from 'node:zlib';
import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { httpLimits } from '@immune/runtime';
import {
  answerProblems,
  type HostileBody,
  hostileBodies,
  runAbuse,
  wrongJson,
} from '@immune/runtime/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppHarness, reported, startApp } from './harness.js';

/**
 * Issue 19: every HTTP surface of ingest fuzzed (the vitals API, agent registration, OTLP/HTTP traces in JSON
 * and protobuf, gzip or not) and abused at the socket level, on real NATS and PostgreSQL. Never a 5xx; every
 * refusal is a JSON error naming the problem; a normal request keeps being served.
 */

const INGEST_RUNS = 400;
const REGISTER_RUNS = 200;
const OTLP_RUNS = 400;
const LIMITS = httpLimits({
  HTTP_MAX_HEADER_BYTES: 8192,
  HTTP_MAX_CONNECTIONS: 1000,
  HTTP_HEADERS_TIMEOUT_MS: 2000,
  HTTP_REQUEST_TIMEOUT_MS: 3000,
  HTTP_KEEP_ALIVE_TIMEOUT_MS: 5000,
});

let natsUrl: string;
let prefix: string;
let bus: Bus;
let app: AppHarness;
beforeAll(async () => {
  natsUrl = await natsUrlForTests();
  prefix = uniquePrefix('ingfz');
  bus = await connectNatsBus({ url: natsUrl, prefix, name: 'ingest-fuzz' });
  app = await startApp({
    bus,
    listen: true,
    otlpMaxBytes: 64 * 1024,
    bodyLimitBytes: 256 * 1024,
    httpLimits: LIMITS,
  });
}, 60_000);
afterAll(async () => {
  await app?.close();
  await bus?.drain();
  if (natsUrl) await removeTopology(natsUrl, prefix);
});

async function post(path: string, body: HostileBody, headers: Record<string, string> = {}) {
  const response = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${app.key}`,
      ...(body.contentType === undefined ? {} : { 'content-type': body.contentType }),
      ...headers,
    },
    body: body.payload,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

function expectSound(answer: { status: number; contentType: string | null; text: string }, what: string) {
  expect(answerProblems(answer.status, answer.contentType, answer.text), what).toEqual([]);
}

const encoder = new TextEncoder();
const asJson = (kind: string, value: unknown, contentType = 'application/json'): HostileBody => ({
  kind,
  payload: encoder.encode(JSON.stringify(value) ?? 'null'),
  contentType,
});

describe('POST /api/v1/ingest', () => {
  const valid = reported('fuzz-agent');
  const fields = fc.oneof(
    hostileBodies(valid),
    hostileBodies({ vitals: [valid, reported('fuzz-agent')] }),
    fc.array(wrongJson(valid), { maxLength: 8 }).map((vitals) => asJson('array of wrong vitals', vitals)),
    fc
      .array(wrongJson(valid), { maxLength: 8 })
      .map((vitals) => asJson('wrong vitals in an envelope', { vitals })),
  );

  it(`answers ${INGEST_RUNS} hostile bodies without a 5xx, every refusal JSON naming a code`, async () => {
    await fc.assert(
      fc.asyncProperty(fields, async (body) => {
        const answer = await post('/api/v1/ingest', body);
        expectSound(answer, `${body.kind} ${body.contentType}`);
        if (answer.status < 400) expect(answer.status).toBe(202);
      }),
      { numRuns: INGEST_RUNS, seed: 1901 },
    );
  }, 300_000);
});

describe('POST /api/v1/agents/register', () => {
  const valid = {
    agent_id: 'fuzz-agent',
    name: 'Fuzz',
    model: 'gpt-4o-mini',
    mcp_servers: ['github'],
    tags: ['fuzz'],
    control_url: 'http://127.0.0.1:9/control',
  };

  it(`answers ${REGISTER_RUNS} hostile bodies without a 5xx`, async () => {
    await fc.assert(
      fc.asyncProperty(hostileBodies(valid), async (body) => {
        expectSound(await post('/api/v1/agents/register', body), `${body.kind} ${body.contentType}`);
      }),
      { numRuns: REGISTER_RUNS, seed: 1902 },
    );
  }, 300_000);
});

describe('POST /v1/traces (OTLP/HTTP)', () => {
  const attribute = { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } };
  const span = {
    traceId: '0123456789abcdef0123456789abcdef',
    spanId: '0123456789abcdef',
    name: 'chat gpt-4o-mini',
    kind: 3,
    startTimeUnixNano: '1732400000000000000',
    endTimeUnixNano: '1732400001000000000',
    attributes: [
      { key: 'gen_ai.system', value: { stringValue: 'openai' } },
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
      attribute,
    ],
    status: { code: 1 },
  };
  const exportOf = (spans: unknown[], resourceAttributes: unknown[] = []) => ({
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: 'service.name', value: { stringValue: 'fuzz-agent' } }, ...resourceAttributes],
        },
        scopeSpans: [{ scope: { name: 'fuzz' }, spans }],
      },
    ],
  });
  const valid = exportOf([span]);
  const protobuf = fc.oneof(
    fc.uint8Array({ maxLength: 1024 }),
    // Plausible protobuf: field tags of the export request and its nested messages, with random lengths.
    fc
      .array(
        fc.tuple(
          fc.constantFrom(0x0a, 0x12, 0x1a, 0x22, 0x08, 0x10, 0x39, 0x41),
          fc.uint8Array({ maxLength: 40 }),
        ),
        {
          maxLength: 12,
        },
      )
      .map((fieldsOf) => Uint8Array.from(fieldsOf.flatMap(([tag, bytes]) => [tag, bytes.length, ...bytes]))),
    fc.constant(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
  );
  const bodies: fc.Arbitrary<HostileBody & { gzip?: boolean | 'lie' }> = fc.oneof(
    hostileBodies(valid),
    wrongJson(span).map((wrong) => asJson('one wrong span', exportOf([wrong, span]))),
    wrongJson(attribute).map((wrong) =>
      asJson('one wrong attribute', exportOf([{ ...span, attributes: [wrong] }])),
    ),
    wrongJson(attribute).map((wrong) => asJson('one wrong resource attribute', exportOf([span], [wrong]))),
    wrongJson(valid.resourceSpans[0] as Record<string, unknown>).map((wrong) =>
      asJson('one wrong resource', { resourceSpans: [wrong] }),
    ),
    protobuf.map((bytes) => ({
      kind: 'protobuf bytes',
      payload: bytes,
      contentType: 'application/x-protobuf',
    })),
    fc
      .tuple(
        fc.oneof(
          hostileBodies(valid),
          protobuf.map((bytes) => ({
            kind: 'protobuf',
            payload: bytes,
            contentType: 'application/x-protobuf',
          })),
        ),
        fc.constantFrom(true, 'lie' as const),
      )
      .map(([body, gzip]) => ({ ...body, kind: `${body.kind} gzip=${gzip}`, gzip })),
  );

  it(`answers ${OTLP_RUNS} hostile exports (JSON, protobuf, gzip) without a 5xx`, async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const payload = body.gzip === true ? gzipSync(body.payload) : body.payload;
        const answer = await post(
          '/v1/traces',
          { ...body, payload },
          body.gzip === undefined ? {} : { 'content-encoding': 'gzip' },
        );
        if (/protobuf/.test(answer.contentType ?? '')) {
          // OTLP/HTTP answers a protobuf request with a protobuf google.rpc.Status (its specification), not JSON.
          expect(answer.status, body.kind).toBeLessThan(500);
          if (answer.status >= 400) expect(answer.text, body.kind).toMatch(/[a-z]{4,}/);
        } else expectSound(answer, `${body.kind} ${body.contentType}`);
      }),
      { numRuns: OTLP_RUNS, seed: 1903 },
    );
  }, 300_000);

  it('refuses a gzip bomb with 413 naming the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    const answer = await post(
      '/v1/traces',
      { kind: 'bomb', payload: bomb, contentType: 'application/json' },
      { 'content-encoding': 'gzip' },
    );
    expect(answer.status).toBe(413);
    expectSound(answer, 'gzip bomb');
  });
});

describe('raw sockets', () => {
  const probe = async () => {
    const response = await fetch(`${app.url}/api/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(reported('probe')),
    });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`probe answered ${response.status}`);
  };
  const target = (path: string, body: string, contentType: string) => ({
    host: '127.0.0.1',
    port: Number(new URL(app.url).port),
    method: 'POST',
    path,
    headers: { 'content-type': contentType, authorization: `Bearer ${app.key}` },
    body,
    maxHeaderBytes: LIMITS.maxHeaderBytes,
    headersTimeoutMs: LIMITS.timeouts.headersTimeoutMs,
    idleConnections: 200,
  });

  it('survives raw-socket abuse of the vitals API and keeps ingesting', async () => {
    const report = await runAbuse(
      target('/api/v1/ingest', JSON.stringify(reported('abuser')), 'application/json'),
      probe,
    );
    expect(report.probesDuring).toBeGreaterThan(0);
  }, 120_000);

  it('survives raw-socket abuse of the OTLP endpoint and keeps ingesting', async () => {
    const report = await runAbuse(
      target(
        '/v1/traces',
        JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [] }] }),
        'application/json',
      ),
      probe,
    );
    expect(report.probesDuring).toBeGreaterThan(0);
  }, 120_000);
});
