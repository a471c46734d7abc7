import {
  BASELINE_METRICS,
  JUDGEMENT_SLOTS,
  KIND_INDEX,
  metricUnitBand,
  type Vital,
  type VitalKind,
} from '@immune/core';
import { instruments, type Logger } from '@immune/runtime';
import type { SigmaBucket } from '@immune/store';
import type { Meter } from '@opentelemetry/api';

export interface SigmaHistoryOptions {
  /** Width of a bucket, ms (event time: a vital falls in the bucket of its own `ts`). */
  bucketMs: number;
  /** How often the held buckets are written, ms. */
  flushMs: number;
  /** Buckets held at most while the store does not answer; beyond, the oldest are dropped and counted. */
  maxBuckets: number;
  /** Writes one batch (`SigmaBucketRepository.upsertMany`). */
  save: (buckets: SigmaBucket[]) => Promise<unknown>;
  logger: Logger;
  meter?: Meter;
}

/** Per metric in `OpenBucket.stats`: worst σ, samples, then the band's mean, sd and threshold on the judged scale. */
const SLOTS = 5;
const METRIC_COUNT = BASELINE_METRICS.length;

/** One agent's bucket for one vital kind while it fills in memory; reused once written (see `SigmaHistory`). */
class OpenBucket {
  lastTs = Number.NEGATIVE_INFINITY;
  readonly stats = new Float64Array(METRIC_COUNT * SLOTS);

  constructor(
    public agentId: string,
    public kind: VitalKind,
    public start: number,
  ) {
    this.reset(agentId, kind, start);
  }

  reset(agentId: string, kind: VitalKind, start: number): this {
    this.agentId = agentId;
    this.kind = kind;
    this.start = start;
    this.lastTs = Number.NEGATIVE_INFINITY;
    this.stats.fill(0);
    for (let i = 0; i < METRIC_COUNT; i++) this.stats[i * SLOTS] = Number.NEGATIVE_INFINITY;
    return this;
  }
}

/**
 * The sentinel's writer of the σ history (`sigma_buckets`): per agent, vital kind, baseline metric and bucket,
 * the worst σ the detector judged and the band as of the latest vital. Judging a vital costs a map lookup and
 * a few numbers written into the agent's open bucket (an allocation only when a bucket opens); the buckets
 * are written in one batch every `flushMs` and at shutdown. The store being down never holds triage up: the
 * batch stays held, bounded by `maxBuckets` (oldest dropped, counted in `sentinel_sigma_buckets_dropped`).
 */
export class SigmaHistory {
  /** Per agent, the bucket each vital kind is filling (indexed by `KIND_INDEX`), since the last flush. */
  private readonly open = new Map<string, Array<OpenBucket | undefined>>();
  /** Every bucket opened since the last successful flush, oldest first. */
  private held: OpenBucket[] = [];
  /**
   * Buckets written (or dropped), ready to be opened again: a typed array per bucket cost about 2 µs to
   * allocate, as much as judging the vital, for agents that send about one vital per bucket.
   */
  private spare: OpenBucket[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  /** Buckets dropped unwritten (store unreachable for too long), and rows written. */
  dropped = 0;
  written = 0;

  constructor(private readonly options: SigmaHistoryOptions) {
    if (options.meter) {
      const make = instruments(options.meter);
      make.observedCounter(
        'sentinel_sigma_buckets_dropped',
        { description: 'σ history buckets dropped unwritten while the store did not answer' },
        (result) => result.observe(this.dropped),
      );
      make.observedGauge(
        'sentinel_sigma_buckets_held',
        { description: 'σ history buckets held in memory, waiting for the next write' },
        (result) => result.observe(this.held.length),
      );
    }
  }

  /** Buckets held in memory now. */
  get size(): number {
    return this.held.length;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushMs);
  }

  /** Stops the timer and writes what is held (shutdown, after the last vital was judged). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Adds what the triage judged of `vital` (`AgentTriage.judgement`, read before the next vital). */
  record(vital: Vital, judgement: Float64Array): void {
    let any = false;
    for (let i = 0; i < METRIC_COUNT; i++) {
      if (!Number.isNaN(judgement[i * JUDGEMENT_SLOTS]!)) {
        any = true;
        break;
      }
    }
    if (!any) return;
    const width = this.options.bucketMs;
    const ts = vital.ts;
    const start = ts - (((ts % width) + width) % width);
    const kindIndex = KIND_INDEX[vital.kind];
    let kinds = this.open.get(vital.agent_id);
    if (kinds === undefined) {
      kinds = [undefined, undefined, undefined];
      this.open.set(vital.agent_id, kinds);
    }
    let bucket = kinds[kindIndex];
    if (bucket === undefined || bucket.start !== start) {
      // A vital late into an earlier bucket opens it again: the store merges both into one row.
      bucket =
        this.spare.pop()?.reset(vital.agent_id, vital.kind, start) ??
        new OpenBucket(vital.agent_id, vital.kind, start);
      kinds[kindIndex] = bucket;
      this.held.push(bucket);
      if (this.held.length > this.options.maxBuckets)
        this.dropOldest(this.held.length - this.options.maxBuckets);
    }
    const latest = ts >= bucket.lastTs;
    if (latest) bucket.lastTs = ts;
    const stats = bucket.stats;
    for (let i = 0; i < METRIC_COUNT; i++) {
      const j = i * JUDGEMENT_SLOTS;
      const sigma = judgement[j]!;
      if (Number.isNaN(sigma)) continue;
      const o = i * SLOTS;
      if (sigma > stats[o]!) stats[o] = sigma;
      stats[o + 1]!++;
      if (latest || stats[o + 1] === 1) {
        stats[o + 2] = judgement[j + 1]!;
        stats[o + 3] = judgement[j + 2]!;
        stats[o + 4] = judgement[j + 3]!;
      }
    }
  }

  /** Writes every held bucket in one batch; a flush already running is waited for instead of doubled. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    const batch = this.held;
    if (batch.length === 0) return;
    this.held = [];
    // Vitals judged from now on open fresh buckets; the store merges them with the ones being written.
    this.open.clear();
    const rows = toRows(batch);
    try {
      await this.options.save(rows);
      this.written += rows.length;
      // Never more spares than the bound holds: a burst's buckets are not kept for ever.
      for (const bucket of batch) {
        if (this.spare.length >= this.options.maxBuckets) break;
        this.spare.push(bucket);
      }
      if (this.failing) {
        this.failing = false;
        this.options.logger.info(
          { event: 'sigma-history-restored', rows: rows.length, dropped: this.dropped },
          'σ history written again',
        );
      }
    } catch (error) {
      // Held again, ahead of what came since (older first, so the bound drops the oldest).
      this.held = batch.concat(this.held);
      if (this.held.length > this.options.maxBuckets)
        this.dropOldest(this.held.length - this.options.maxBuckets);
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn(
          { event: 'sigma-history-unwritten', err: error, held: this.held.length },
          'σ history not written; holding it (bounded) and retrying',
        );
      }
    }
  }

  private dropOldest(count: number): void {
    const gone = this.held.splice(0, count);
    for (const bucket of gone) {
      const kinds = this.open.get(bucket.agentId);
      const index = KIND_INDEX[bucket.kind];
      if (kinds?.[index] === bucket) kinds[index] = undefined;
    }
    this.dropped += gone.length;
    for (const bucket of gone) if (this.spare.length < this.options.maxBuckets) this.spare.push(bucket);
  }
}

/** One row per metric judged in each bucket, the band turned into the metric's unit by core's helper. */
function toRows(buckets: readonly OpenBucket[]): SigmaBucket[] {
  const rows: SigmaBucket[] = [];
  for (const bucket of buckets) {
    const stats = bucket.stats;
    for (let i = 0; i < METRIC_COUNT; i++) {
      const o = i * SLOTS;
      const samples = stats[o + 1]!;
      if (samples === 0) continue;
      const metric = BASELINE_METRICS[i]!;
      const threshold = stats[o + 4]!;
      const band = metricUnitBand(metric, stats[o + 2]!, stats[o + 3]!, threshold);
      // float4 columns: a band beyond them (an absurd baseline) is not worth a failed batch.
      if (!(fitsReal(band.typical) && fitsReal(band.low) && fitsReal(band.high))) continue;
      rows.push({
        agent_id: bucket.agentId,
        kind: bucket.kind,
        metric,
        bucket_start: bucket.start,
        worst_sigma: stats[o]!,
        samples,
        typical: band.typical,
        low: band.low,
        high: band.high,
        threshold,
        last_ts: bucket.lastTs,
      });
    }
  }
  return rows;
}

/** Within PostgreSQL's `real` (float4), which refuses to round a larger value to infinity. */
function fitsReal(x: number): boolean {
  return Math.abs(x) < 3e38;
}
