import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogs } from '../testing.js';
import { instruments } from './instruments.js';
import { startTelemetry, type Telemetry, tracesHttp } from './start-telemetry.js';

const started: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((telemetry) => telemetry.shutdown()));
});

function start(options: Parameters<typeof startTelemetry>[0]): Telemetry {
  const telemetry = startTelemetry({ instrumentations: [], env: {}, ...options });
  started.push(telemetry);
  return telemetry;
}

describe('startTelemetry', () => {
  it('traces spans with the service name and puts their ids into log lines', async () => {
    const spans = new InMemorySpanExporter();
    const telemetry = start({
      serviceName: 'sentinel',
      spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    });
    const logs = captureLogs();
    let traceId = '';
    await telemetry.tracer().startActiveSpan('detect', async (span) => {
      traceId = span.spanContext().traceId;
      await Promise.resolve();
      logs.logger.info('detecting');
      span.end();
    });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(logs.find('detecting')?.trace_id).toBe(traceId);
    const [finished] = spans.getFinishedSpans();
    expect(finished?.name).toBe('detect');
    expect(finished?.resource.attributes['service.name']).toBe('sentinel');
    expect(telemetry.tracesEndpoint).toBeUndefined();
  });

  it('returns the running instance on a second call and can start again after shutdown', async () => {
    const first = start({ serviceName: 'healer' });
    expect(start({ serviceName: 'other' })).toBe(first);
    await first.shutdown();
    const second = start({ serviceName: 'healer' });
    expect(second).not.toBe(first);
    second.tracer().startActiveSpan('after-restart', (span) => {
      expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      span.end();
    });
  });

  it('serves recorded metrics as Prometheus text', async () => {
    const telemetry = start({ serviceName: 'ingest' });
    const make = instruments(telemetry.meter());
    make.counter('ingest_vitals_recorded', { description: 'vitals written' }).add(5, { source: 'sdk' });
    make.histogram('ingest_batch_duration_seconds', { unit: 's', buckets: [0.01, 0.1, 1] }).record(0.05);
    const text = await telemetry.scrape();
    expect(text).toContain('# TYPE ingest_vitals_recorded_total counter');
    expect(text).toMatch(/ingest_vitals_recorded_total\{source="sdk"[^}]*\} 5/);
    expect(text).toMatch(/ingest_batch_duration_seconds_bucket\{[^}]*le="0.1"\} 1/);
    expect(text).toContain('service_name="ingest"');
  });

  it('takes the service name from OTEL_SERVICE_NAME', () => {
    const telemetry = start({ serviceName: 'gateway', env: { OTEL_SERVICE_NAME: 'gateway-eu' } });
    expect(telemetry.serviceName).toBe('gateway-eu');
  });

  it('exports traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, flushing on shutdown', async () => {
    const received: { method?: string; url?: string }[] = [];
    const collector = createServer((request: IncomingMessage, response) => {
      received.push({ method: request.method, url: request.url });
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const telemetry = startTelemetry({
        serviceName: 'gateway',
        instrumentations: [],
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/` },
      });
      expect(telemetry.tracesEndpoint).toBe(`http://127.0.0.1:${port}/v1/traces`);
      telemetry.tracer().startSpan('proxy').end();
      await telemetry.shutdown();
      expect(received).toContainEqual({ method: 'POST', url: '/v1/traces' });
    } finally {
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });

  it('loads the HTTP instrumentation always by default, and only with an exporter when asked', () => {
    expect(tracesHttp(undefined, undefined)).toBe(true);
    expect(tracesHttp('always', undefined)).toBe(true);
    expect(tracesHttp('when-exported', undefined)).toBe(false);
    expect(tracesHttp('when-exported', 'http://collector:4318/v1/traces')).toBe(true);
  });
});
