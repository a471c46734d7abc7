// Entry point `@immune/runtime/telemetry`: loads no HTTP framework, so a service can start telemetry before
// fastify or node:http are imported.
export {
  DURATION_BUCKETS_SECONDS,
  type HistogramOptions,
  type InstrumentOptions,
  type Instruments,
  instruments,
  TOKEN_BUCKETS,
} from './instruments.js';
export {
  createPrometheusMetrics,
  type MetricsSource,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
} from './prometheus-metrics.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './start-telemetry.js';
