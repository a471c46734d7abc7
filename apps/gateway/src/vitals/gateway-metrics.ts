import type { VitalPublisher } from '@immune/bus';
import type { Vital } from '@immune/core';
import { DURATION_BUCKETS_SECONDS, instruments, TOKEN_BUCKETS } from '@immune/runtime';
import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type ObservableResult,
} from '@opentelemetry/api';
import type { QuarantineView } from '../enforcement/quarantine-view.js';
import type { ProxyMetrics } from '../proxy/proxy-call.js';

/** First-chunk times are short: from 10 ms. */
const FIRST_CHUNK_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The gateway's metrics, in Prometheus at `/metrics`. LLM calls follow the OpenTelemetry GenAI semantic
 * conventions (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`,
 * `gen_ai.client.operation.time_to_first_chunk`, with `gen_ai.operation.name`, `gen_ai.provider.name`,
 * `gen_ai.request.model` and `error.type`); the gateway's own are `gateway_*`. Attribute objects are cached per
 * label set, and the per-call counters are plain totals read at collection, so a call costs a map lookup and
 * its histogram updates. The runtime's histograms find their series by the attribute object's identity
 * (`local-histograms.ts`): the cached objects are what makes a record cheap, and must never be changed.
 */
export class GatewayMetrics implements ProxyMetrics {
  /** Per-call counters kept as plain totals and observed at collection (see `LabelledTotals`). */
  private readonly requests = new LabelledTotals<string>((outcome) => ({ outcome }));
  private readonly upstreamErrors = new LabelledTotals<Attributes>((call) => call);
  private refusals = 0;
  private readonly dropped: Counter;
  private readonly duration: Histogram;
  private readonly tokens: Histogram;
  private readonly firstChunk: Histogram;
  private readonly meter: Meter;
  private readonly labels = new Map<string, { call: Attributes; input: Attributes; output: Attributes }>();

  constructor(meter: Meter | undefined) {
    this.meter = meter ?? createNoopMeter();
    const make = instruments(this.meter);
    make.observedCounter('gateway_requests', { description: 'Proxied requests by outcome' }, (result) =>
      this.requests.observe(result),
    );
    make.observedCounter(
      'gateway_quarantine_refusals',
      { description: 'Requests refused, or calls cut, because their agent is quarantined' },
      (result) => result.observe(this.refusals),
    );
    make.observedCounter(
      'gateway_upstream_errors',
      {
        description:
          'Calls that failed, by provider and error type (provider errors and unreachable providers)',
      },
      (result) => this.upstreamErrors.observe(result),
    );
    this.dropped = make.counter('gateway_vitals_dropped', {
      description: 'Vitals dropped because the outage buffer was full',
    });
    this.duration = make.histogram('gen_ai.client.operation.duration', {
      description: 'GenAI operation duration, as the gateway saw it',
      unit: 's',
      buckets: DURATION_BUCKETS_SECONDS,
    });
    this.tokens = make.histogram('gen_ai.client.token.usage', {
      description: 'Input and output tokens per call',
      unit: '{token}',
      buckets: TOKEN_BUCKETS,
    });
    this.firstChunk = make.histogram('gen_ai.client.operation.time_to_first_chunk', {
      description: 'Time to the first generated token of a stream',
      unit: 's',
      buckets: FIRST_CHUNK_BUCKETS_SECONDS,
    });
  }

  request(outcome: string): void {
    this.requests.add(outcome);
    if (outcome === 'agent_quarantined') this.refusals++;
  }

  call(vital: Vital, operation: string): void {
    const labels = this.labelsOf(operation, vital);
    this.duration.record(vital.latency_ms / 1000, labels.call);
    if (vital.ttft_ms !== undefined) this.firstChunk.record(vital.ttft_ms / 1000, labels.call);
    if (vital.input_tokens > 0) this.tokens.record(vital.input_tokens, labels.input);
    if (vital.output_tokens > 0) this.tokens.record(vital.output_tokens, labels.output);
    if (!vital.success) this.upstreamErrors.add(labels.call);
  }

  vitalDropped(count: number): void {
    this.dropped.add(count);
  }

  /** Gauges read at scrape time: nothing is done per request. */
  observe(sources: { publisher: VitalPublisher; quarantine: QuarantineView }): void {
    this.meter
      .createObservableGauge('gateway_vitals_buffered', {
        description: 'Vitals waiting to be published (the bus is slow or down)',
      })
      .addCallback((result) => result.observe(sources.publisher.stats.buffered));
    this.meter
      .createObservableGauge('gateway_calls_in_flight', {
        description: 'Calls waiting for their provider or streaming, on this replica',
      })
      .addCallback((result) => result.observe(sources.quarantine.inFlight));
  }

  private labelsOf(operation: string, vital: Vital) {
    const model = vital.model ?? '';
    const provider = vital.provider ?? '';
    const error = vital.success ? '' : (vital.error_type ?? '');
    const key = `${operation}\0${provider}\0${model}\0${error}`;
    let labels = this.labels.get(key);
    if (labels === undefined) {
      const call: Attributes = {
        'gen_ai.operation.name': operation,
        'gen_ai.provider.name': provider,
        'gen_ai.request.model': model,
        ...(error ? { 'error.type': error } : {}),
      };
      labels = {
        call,
        input: { ...call, 'gen_ai.token.type': 'input' },
        output: { ...call, 'gen_ai.token.type': 'output' },
      };
      // Bounded: model names come from clients; beyond this many label sets, new ones are not cached.
      if (this.labels.size < 10_000) this.labels.set(key, labels);
    }
    return labels;
  }
}

/** Beyond this many label sets a counter adds to one overflow series, as the OpenTelemetry SDK itself does. */
const MAX_LABEL_SETS = 1_000;
const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

/**
 * A counter by label set kept as plain totals, observed at collection time: adding is a `Map` lookup and an
 * increment, where the SDK's `Counter.add` hashes the attribute set on every call.
 */
class LabelledTotals<Key> {
  private readonly totals = new Map<Key, { attributes: Attributes; count: number }>();
  private overflow = 0;

  constructor(private readonly attributesOf: (key: Key) => Attributes) {}

  add(key: Key): void {
    const entry = this.totals.get(key);
    if (entry !== undefined) entry.count++;
    else if (this.totals.size < MAX_LABEL_SETS)
      this.totals.set(key, { attributes: this.attributesOf(key), count: 1 });
    else this.overflow++;
  }

  observe(result: ObservableResult): void {
    for (const { attributes, count } of this.totals.values()) result.observe(count, attributes);
    if (this.overflow > 0) result.observe(this.overflow, OVERFLOW);
  }
}
