import type {
  Counter,
  Gauge,
  Histogram,
  Meter,
  ObservableCallback,
  ObservableCounter,
  ObservableGauge,
  UpDownCounter,
} from '@opentelemetry/api';

export interface InstrumentOptions {
  description?: string;
  /** UCUM unit (`s`, `ms`, `By`, `{token}`); the Prometheus exporter adds it to the name as a suffix. */
  unit?: string;
}

export interface HistogramOptions extends InstrumentOptions {
  /** Explicit bucket boundaries; the SDK's defaults suit milliseconds poorly and seconds not at all. */
  buckets?: readonly number[];
}

/** Latency buckets in seconds from 5 ms to 10 min: LLM calls and streams are long, health checks short. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** Token-count buckets for LLM usage histograms. */
export const TOKEN_BUCKETS: readonly number[] = [16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576];

/**
 * The one way a service makes metrics: a thin factory over a meter so every service names and documents its
 * instruments the same way. Use Prometheus-style names: counters without `_total` (the exporter appends it),
 * histograms with their unit (`gateway_upstream_duration_seconds`). On a hot path, keep a plain total and
 * report it with `observedCounter` / `observedGauge`, which read it only when metrics are collected, and record
 * histograms with one kept attributes object per label set (see local-histograms.ts).
 */
export interface Instruments {
  counter(name: string, options?: InstrumentOptions): Counter;
  upDownCounter(name: string, options?: InstrumentOptions): UpDownCounter;
  histogram(name: string, options?: HistogramOptions): Histogram;
  gauge(name: string, options?: InstrumentOptions): Gauge;
  /** A monotonic total the service keeps itself, observed at collection time. */
  observedCounter(name: string, options: InstrumentOptions, observe: ObservableCallback): ObservableCounter;
  /** A current value (queue length, agents in memory), observed at collection time. */
  observedGauge(name: string, options: InstrumentOptions, observe: ObservableCallback): ObservableGauge;
}

export function instruments(meter: Meter): Instruments {
  return {
    counter: (name, options = {}) => meter.createCounter(name, options),
    upDownCounter: (name, options = {}) => meter.createUpDownCounter(name, options),
    histogram: (name, { buckets, ...options } = {}) =>
      meter.createHistogram(name, {
        ...options,
        ...(buckets ? { advice: { explicitBucketBoundaries: [...buckets] } } : {}),
      }),
    gauge: (name, options = {}) => meter.createGauge(name, options),
    observedCounter: (name, options, observe) => {
      const counter = meter.createObservableCounter(name, options);
      counter.addCallback(observe);
      return counter;
    },
    observedGauge: (name, options, observe) => {
      const gauge = meter.createObservableGauge(name, options);
      gauge.addCallback(observe);
      return gauge;
    },
  };
}
