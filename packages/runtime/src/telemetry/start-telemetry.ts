import {
  context,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  propagation,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { createPrometheusMetrics, type MetricsSource } from './prometheus-metrics.js';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Read for OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME; `process.env` when omitted. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Base URL of an OTLP/HTTP collector (`/v1/traces` is appended); overrides the env variable. */
  otlpEndpoint?: string;
  /** Replaces the default instrumentations (incoming and outgoing `node:http`). */
  instrumentations?: Instrumentation[];
  /**
   * `always` (default): a span per HTTP request even without a collector, so every log line carries a trace id.
   * `when-exported`: the default instrumentations and the async context manager load only when traces are
   * exported. For a proxy's hot path: in the gateway benchmark the per-request span and its async context were
   * about 30 % of the CPU per request, paid for trace ids that nobody could look up.
   */
  httpSpans?: 'always' | 'when-exported';
  /** Added after the exporter's processor; tests use an in-memory exporter here. */
  spanProcessors?: SpanProcessor[];
}

export interface Telemetry extends MetricsSource {
  readonly serviceName: string;
  /** Where traces go, or undefined when only local trace ids (for log correlation) are produced. */
  readonly tracesEndpoint: string | undefined;
  meter(name?: string, version?: string): Meter;
  tracer(name?: string, version?: string): Tracer;
  /** Flushes pending spans and metrics, then unregisters every global so a later start works (tests). */
  shutdown(): Promise<void>;
}

/** Probes and scrapes would otherwise be most of a service's spans. */
// `/v1/traces`: ingest's OTLP receiver must not trace its own handling, or every export would make spans to export.
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/v1/traces']);

let active: Telemetry | undefined;

/**
 * Starts OpenTelemetry for this process: W3C trace-context propagation, a tracer provider (so log lines carry
 * trace ids even without a collector), OTLP/HTTP trace export when an endpoint is configured, and a Prometheus
 * meter provider that `createHttpServer` serves at `GET /metrics`.
 *
 * Call it before anything imports `node:http` or fastify, from a module imported first by main.ts (import it
 * from `@immune/runtime/telemetry`, which does not load fastify), or with `node --import ./dist/telemetry.js`.
 * Instrumentations patch modules as they load, so anything loaded earlier is not traced.
 *
 * OpenTelemetry's providers are process-wide: a second call while one is running returns the running instance
 * instead of registering twice.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (active) return active;
  const env = options.env ?? process.env;
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? options.serviceName;
  const endpoint = nonEmpty(options.otlpEndpoint) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const tracesEndpoint = endpoint ? `${endpoint.replace(/\/+$/, '')}/v1/traces` : undefined;

  const resource = defaultResource().merge(
    resourceFromAttributes({
      'service.name': serviceName,
      ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    }),
  );
  const prometheus = createPrometheusMetrics({ serviceName, resource });
  metrics.setGlobalMeterProvider(prometheus.meterProvider);

  const instrumentations =
    options.instrumentations ??
    (tracesHttp(options.httpSpans, tracesEndpoint) ? [httpInstrumentation()] : []);
  const spanProcessors: SpanProcessor[] = [
    // Without any processor the SDK registers no tracer provider and spans get no ids to log.
    tracesEndpoint
      ? new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesEndpoint }) })
      : new NoopSpanProcessor(),
    ...(options.spanProcessors ?? []),
  ];
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    serviceName,
    spanProcessors,
    // Metrics come from the Prometheus provider above; logs go through pino, not the OTel logs SDK.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations,
  });
  sdk.start();
  if (!options.instrumentations) withoutOwnMetrics(instrumentations);
  // No spans per request means no context to carry across callbacks: without a context manager, async
  // context (AsyncLocalStorage, which makes every promise cost more) is not kept at all.
  if (!tracesHttp(options.httpSpans, tracesEndpoint)) context.disable();

  let stopping: Promise<void> | undefined;
  const telemetry: Telemetry = {
    serviceName,
    tracesEndpoint,
    meter: (name = serviceName, version?: string) => prometheus.meter(name, version),
    tracer: (name = serviceName, version?: string) => trace.getTracer(name, version),
    scrape: () => prometheus.scrape(),
    shutdown() {
      stopping ??= (async () => {
        for (const instrumentation of instrumentations) instrumentation.disable();
        try {
          await Promise.all([sdk.shutdown(), prometheus.shutdown()]);
        } finally {
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
          if (active === telemetry) active = undefined;
        }
      })();
      return stopping;
    },
  };
  active = telemetry;
  return telemetry;
}

/** Whether the default `node:http` instrumentation is loaded. */
export function tracesHttp(
  httpSpans: TelemetryOptions['httpSpans'],
  tracesEndpoint: string | undefined,
): boolean {
  return httpSpans !== 'when-exported' || tracesEndpoint !== undefined;
}

/** Traces incoming and outgoing `node:http` requests. */
function httpInstrumentation(): Instrumentation {
  return new HttpInstrumentation({
    ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
  });
}

/**
 * The HTTP bootstrap records request duration with the route pattern as a label, which the http
 * instrumentation cannot know; its own duplicate metric is switched off. Done after `sdk.start()`, which hands
 * every instrumentation the global meter provider.
 */
function withoutOwnMetrics(instrumentations: Instrumentation[]): void {
  const noMetrics: MeterProvider = { getMeter: () => createNoopMeter() };
  for (const instrumentation of instrumentations) instrumentation.setMeterProvider(noMetrics);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}
