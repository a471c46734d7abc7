import { type Bus, connectNatsBus } from '@immune/bus';
import {
  eventually,
  natsUrlForTests,
  OwnNatsServer,
  removeTopology,
  uniquePrefix,
} from '@immune/bus/testing';
import { promptHashOf, systemPromptOf, type Vital } from '@immune/core';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AppHarness, startApp } from '../harness.js';
import { startCountingProxy } from './counting-proxy.js';
import { fixtureSpans, SYSTEM_PROMPT } from './spans.js';

vi.setConfig({ testTimeout: 60_000 });

type ExporterKind = 'proto' | 'json';

function exporterFor(kind: ExporterKind, url: string, key: string, gzip: boolean): SpanExporter {
  const config = {
    url: `${url}/v1/traces`,
    headers: { authorization: `Bearer ${key}` },
    compression: gzip ? ('gzip' as never) : ('none' as never),
    timeoutMillis: 30_000,
  };
  return kind === 'proto' ? new ProtoExporter(config) : new HttpJsonExporter(config);
}

function exportSpans(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

let natsUrl: string;
let prefix: string;
let bus: Bus;
let app: AppHarness;
const published: Vital[] = [];

beforeAll(async () => {
  natsUrl = await natsUrlForTests();
  prefix = uniquePrefix('otlpw');
  bus = await connectNatsBus({ url: natsUrl, prefix, name: 'otlp-wire-test' });
  app = await startApp({ bus, listen: true, otlpMaxBytes: 64 * 1024 });
  await bus.consumeVitals({ durable: 'probe', handler: async (d) => void published.push(d.vital) });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await bus?.drain();
  await removeTopology(natsUrl, prefix);
});

const vitalsOf = (spans: ReadableSpan[]) => {
  const ids = new Set(spans.map((s) => `otlp-${s.spanContext().traceId}-${s.spanContext().spanId}`));
  return published.filter((v) => ids.has(v.id));
};

/** A vital without what differs between two exports of equal spans. */
const comparable = ({ id: _id, ts: _ts, trace_id: _t, latency_ms: _l, ...rest }: Vital) => rest;

describe('POST /v1/traces with the real OpenTelemetry exporters', () => {
  const cases: Array<[ExporterKind, boolean]> = [
    ['proto', false],
    ['proto', true],
    ['json', false],
    ['json', true],
  ];
  const results = new Map<string, Vital[]>();

  it.each(cases)('%s exporter, gzip %s: spans become vitals', async (kind, gzip) => {
    const agent = `wire-agent-${kind}-${gzip}`;
    const spans = fixtureSpans(agent);
    const result = await exportSpans(exporterFor(kind, app.url, app.key, gzip), spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    await eventually(() => expect(vitalsOf(spans)).toHaveLength(3), 20_000);
    const vitals = vitalsOf(spans).sort(
      (a, b) => a.kind.localeCompare(b.kind) || a.latency_ms - b.latency_ms,
    );
    results.set(`${kind}-${gzip}`, vitals);
    const [failed, chat] = vitals.filter((v) => v.kind === 'llm');
    expect(chat).toMatchObject({
      agent_id: agent,
      source: 'otlp',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      input_tokens: 120,
      output_tokens: 30,
      total_tokens: 150,
      tool_calls: 1,
      success: true,
      latency_ms: 250,
      // The gateway's own derivation for the same chat request.
      prompt_hash: promptHashOf(
        systemPromptOf('chat', {
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            { role: 'user', content: 'What do I owe?' },
          ],
        }) as string,
      ),
    });
    expect(chat?.cost).toBeGreaterThan(0);
    expect(failed).toMatchObject({ success: false, error_type: '429', input_tokens: 0 });
    expect(vitals.find((v) => v.kind === 'tool')).toMatchObject({
      tool_name: 'lookup_invoice',
      tool_calls: 1,
    });
  });

  it('gives the same vitals whichever exporter and compression carried the spans', () => {
    const all = [...results.values()].map((vitals) =>
      vitals.map((v) => ({ ...comparable(v), agent_id: 'same' })),
    );
    expect(all).toHaveLength(4);
    for (const vitals of all.slice(1)) expect(vitals).toEqual(all[0]);
  });

  it('counts a re-sent export once', async () => {
    const spans = fixtureSpans('wire-agent-dup');
    const exporter = exporterFor('proto', app.url, app.key, false);
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    // A third export with a marker span behind it: once the marker is consumed, any duplicate would be too.
    const marker = fixtureSpans('wire-agent-dup');
    expect((await exportSpans(exporter, marker)).code).toBe(ExportResultCode.SUCCESS);
    await eventually(() => expect(vitalsOf(marker)).toHaveLength(3), 20_000);
    expect(vitalsOf(spans)).toHaveLength(3);
  });

  it('answers a bad key 401, which the exporter does not retry', async () => {
    const proxy = await startCountingProxy(app.url);
    try {
      const result = await exportSpans(
        exporterFor('proto', proxy.url, 'not-a-key-at-all', false),
        fixtureSpans('x'),
      );
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(proxy.statuses).toEqual([401]);
    } finally {
      await proxy.close();
    }
  });

  it('refuses an export beyond the limit with 413 and a Status body, compressed or not', async () => {
    const big = Buffer.alloc(70 * 1024, 0x41);
    for (const encoding of ['identity', 'gzip']) {
      const { gzipSync } = await import('node:zlib');
      const payload = encoding === 'gzip' ? gzipSync(big) : big;
      const response = await app.server.inject({
        method: 'POST',
        url: '/v1/traces',
        headers: {
          authorization: `Bearer ${app.key}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
        payload,
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ code: 8, message: expect.stringContaining('larger than') });
    }
  });

  it('refuses another content type with 415', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({
      code: 3,
      message: expect.stringContaining('application/x-protobuf'),
    });
  });

  it('answers garbage with 400 and a google.rpc.Status in the request encoding', async () => {
    const json = await app.server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      payload: '{"resourceSpans": 7}',
    });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toMatchObject({ code: 3, message: expect.stringContaining('resourceSpans') });
    const proto = await app.server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/x-protobuf' },
      payload: Buffer.from([0x0a, 0xff, 0xff, 0x01]),
    });
    expect(proto.statusCode).toBe(400);
    expect(proto.headers['content-type']).toContain('application/x-protobuf');
    // Status { code = 3 }: field 1 varint.
    expect([...proto.rawPayload.subarray(0, 2)]).toEqual([0x08, 0x03]);
  });

  it('reports GenAI spans without an agent identity as partial success', async () => {
    const spans = fixtureSpans('unknown_service:node');
    const response = await app.server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        resourceSpans: [
          {
            resource: {
              attributes: [{ key: 'service.name', value: { stringValue: 'unknown_service:node' } }],
            },
            scopeSpans: [
              {
                spans: spans.slice(0, 1).map((s) => ({
                  traceId: s.spanContext().traceId,
                  spanId: s.spanContext().spanId,
                  name: s.name,
                  attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
                })),
              },
            ],
          },
        ],
      }),
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ partialSuccess: { rejectedSpans: '1' } });
  });
});

it('answers 503 with Retry-After while NATS is down, and the exporter retries into success', async () => {
  const nats = await OwnNatsServer.start();
  const ownBus = await connectNatsBus({
    url: nats.url,
    prefix: uniquePrefix('otlpo'),
    publishTimeoutMs: 1_000,
  });
  const ownApp = await startApp({ bus: ownBus, listen: true });
  const proxy = await startCountingProxy(ownApp.url);
  const seen: Vital[] = [];
  const consumer = await ownBus.consumeVitals({
    durable: 'probe',
    handler: async (d) => void seen.push(d.vital),
  });
  try {
    await nats.kill();
    await eventually(() => expect(ownBus.status).toBe('reconnecting'), 10_000);
    const spans = fixtureSpans('outage-agent');
    const exported = exportSpans(exporterFor('proto', proxy.url, ownApp.key, true), spans);
    await eventually(() => expect(proxy.statuses).toContain(503), 20_000);
    await nats.resume();
    expect((await exported).code).toBe(ExportResultCode.SUCCESS);
    expect(proxy.statuses.at(-1)).toBe(200);
    await eventually(() => expect(seen.filter((v) => v.agent_id === 'outage-agent')).toHaveLength(3), 20_000);
  } finally {
    await consumer.stop();
    await proxy.close();
    await ownApp.close();
    await ownBus.drain();
    await nats.stop();
  }
}, 90_000);
