import { connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests } from '@immune/bus/testing';
import { IngestEnv, startIngest } from '@immune/ingest';
import {
  createLogger,
  createPrometheusMetrics,
  loadConfig,
  type RunningService,
  runService,
} from '@immune/runtime';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, expect, it } from 'vitest';
import { type Loop, SENTINEL_ENV, scriptedExecutor, startLoop } from './harness.js';

/**
 * An agent instrumented with OpenTelemetry only (no gateway, no SDK of ours): its GenAI spans go through the
 * real OTLP/protobuf exporter to the real ingest service, become vitals on the bus, and the real sentinel
 * quarantines the agent when its tokens explode.
 */
const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

const KEY = 'e2e-otlp-ingest-key-0123456789';

async function startIngestService(loop: Loop): Promise<string> {
  const natsUrl = await natsUrlForTests();
  const partitions = Number(SENTINEL_ENV.IMMUNE_PARTITIONS);
  const bus = await connectNatsBus({ url: natsUrl, prefix: loop.prefix, partitions, name: 'ingest' });
  let port = 0;
  const service: RunningService = await runService({
    name: 'ingest',
    logger: createLogger({ service: 'ingest', level: 'silent', format: 'json' }),
    ownProcess: false,
    shutdownTimeoutMs: 15_000,
    drainDelayMs: 0,
    async start(context) {
      context.shutdown.onBusDrain(() => bus.drain(), 'bus');
      const config = loadConfig(IngestEnv, {
        INGEST_PORT: '0',
        HOST: '127.0.0.1',
        IMMUNE_SUBJECT_PREFIX: loop.prefix,
        IMMUNE_PARTITIONS: String(partitions),
        INGEST_RECORDER: 'false',
        INGEST_API_KEY: KEY,
        LOG_LEVEL: 'silent',
      });
      ({ port } = await startIngest(context, {
        config,
        bus,
        store: loop.store,
        metrics: createPrometheusMetrics({ serviceName: 'ingest' }),
      }));
    },
  });
  open.push(async () => {
    await service.stop('test over');
  });
  return `http://127.0.0.1:${port}`;
}

it('an OTLP-instrumented agent whose tokens explode is quarantined by the sentinel', {
  timeout: 90_000,
}, async () => {
  const loop = await startLoop({ executor: scriptedExecutor(() => true) });
  open.push(() => loop.close());
  const url = await startIngestService(loop);
  const agent = 'otlp-instrumented-agent';
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': agent }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new OTLPTraceExporter({ url: `${url}/v1/traces`, headers: { authorization: `Bearer ${KEY}` } }),
      ),
    ],
  });
  open.push(() => provider.shutdown());
  const tracer = provider.getTracer('e2e-agent');
  let n = 0;
  /** One chat call as an instrumentation records it, ~1000 tokens × factor, ending at `endMs`. */
  const chat = (endMs: number, factor: number) => {
    n++;
    const noise = (k: number) => ((n * 7919 + k * 104_729) % 1000) / 1000;
    const span = tracer.startSpan('chat gpt-4o-mini', {
      startTime: endMs - 800,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': Math.round((700 + noise(1) * 40) * factor),
        'gen_ai.usage.output_tokens': Math.round((300 + noise(2) * 20) * factor),
      },
    });
    span.end(endMs - Math.round(noise(3) * 40));
  };

  const warmEnd = Date.now() - 500;
  for (let i = 0; i < 20; i++) chat(warmEnd - (20 - i) * 100, 1);
  await provider.forceFlush();
  await eventually(async () => expect(await loop.state(agent)).toBe('HEALTHY'), 20_000);

  const now = Date.now();
  for (let i = 0; i < 4; i++) chat(now + i * 10, 3);
  await provider.forceFlush();
  await eventually(() => expect(loop.eventsOf('infection.detected', agent)).toHaveLength(1), 20_000);
  await eventually(async () => expect(await loop.state(agent)).toBe('QUARANTINED'), 20_000);
  expect((await loop.quarantineEntry(agent))?.state).toBe('QUARANTINED');
  expect(loop.eventsOf('agent.discovered', agent)[0]?.data).toMatchObject({
    source: 'otlp',
    identity: 'otlp',
  });
});
