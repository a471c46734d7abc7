import type { BaselineMetric, VitalKind } from '@immune/core';
import { type Selectable, sql } from 'kysely';
import { toDate, toMillis } from '../conversions.js';
import type { Db, SigmaBucketsTable } from '../database.js';

/**
 * One bucket of an agent's σ history for one vital kind and baseline metric: the worst σ its judged vitals
 * showed, how many were judged, and the baseline band (typical value, low and high at `threshold` σ, in the
 * metric's unit) as of the latest of them (`last_ts`). Times are epoch milliseconds.
 */
export interface SigmaBucket {
  agent_id: string;
  kind: VitalKind;
  metric: BaselineMetric;
  bucket_start: number;
  worst_sigma: number;
  samples: number;
  typical: number;
  low: number;
  high: number;
  threshold: number;
  last_ts: number;
}

/** One agent's worst σ over every metric and kind in one bucket of a fleet read (see `worstByBucket`). */
export interface AgentSigmaBucket {
  agent_id: string;
  /** The bucket's index from `since`, in `bucketMs` steps. */
  bucket: number;
  sigma: number;
}

/** Rows per statement: eleven arrays whatever the count, but one statement should stay a bounded write. */
const UPSERT_CHUNK = 10_000;

/**
 * The σ history the sentinel writes (table `sigma_buckets`). Writes merge into what a bucket already holds,
 * so the sentinel may flush a bucket several times while it fills: the worst σ is the greatest, the samples
 * add up, and the band is the one of the latest vital, whichever flush brought it.
 */
export class SigmaBucketRepository {
  constructor(private readonly db: Db) {}

  /** Merges `buckets` into the table, one statement per `UPSERT_CHUNK` rows; returns the rows written. */
  async upsertMany(buckets: readonly SigmaBucket[]): Promise<number> {
    if (buckets.length === 0) return 0;
    // One upsert may not touch a row twice: merge the batch's own repeats first, the same way.
    const merged = new Map<string, SigmaBucket>();
    for (const bucket of buckets) {
      const key = `${bucket.agent_id}\u0000${bucket.kind}\u0000${bucket.metric}\u0000${bucket.bucket_start}`;
      const seen = merged.get(key);
      merged.set(key, seen === undefined ? bucket : mergeBuckets(seen, bucket));
    }
    const rows = [...merged.values()];
    for (let from = 0; from < rows.length; from += UPSERT_CHUNK) {
      const chunk = rows.slice(from, from + UPSERT_CHUNK);
      const column = <K extends keyof SigmaBucket>(key: K) => chunk.map((row) => row[key]);
      await sql`
        insert into sigma_buckets
          (agent_id, kind, metric, bucket_start, worst_sigma, samples, typical, low, high, threshold, last_ts)
        select r.agent_id, r.kind, r.metric, timestamptz 'epoch' + r.bucket_start * interval '1 millisecond',
          r.worst_sigma, r.samples, r.typical, r.low, r.high, r.threshold,
          timestamptz 'epoch' + r.last_ts * interval '1 millisecond'
        from unnest(
          ${column('agent_id')}::text[], ${column('kind')}::text[], ${column('metric')}::text[],
          ${column('bucket_start')}::float8[], ${column('worst_sigma')}::float4[], ${column('samples')}::int[],
          ${column('typical')}::float4[], ${column('low')}::float4[], ${column('high')}::float4[],
          ${column('threshold')}::float4[], ${column('last_ts')}::float8[]
        ) as r(agent_id, kind, metric, bucket_start, worst_sigma, samples, typical, low, high, threshold, last_ts)
        on conflict (agent_id, kind, metric, bucket_start) do update set
          worst_sigma = greatest(sigma_buckets.worst_sigma, excluded.worst_sigma),
          samples = sigma_buckets.samples + excluded.samples,
          typical = case when excluded.last_ts >= sigma_buckets.last_ts then excluded.typical else sigma_buckets.typical end,
          low = case when excluded.last_ts >= sigma_buckets.last_ts then excluded.low else sigma_buckets.low end,
          high = case when excluded.last_ts >= sigma_buckets.last_ts then excluded.high else sigma_buckets.high end,
          threshold = case when excluded.last_ts >= sigma_buckets.last_ts then excluded.threshold else sigma_buckets.threshold end,
          last_ts = greatest(sigma_buckets.last_ts, excluded.last_ts)`.execute(this.db);
    }
    return rows.length;
  }

  /** One agent's buckets in [since, until), by kind, metric and time; `kind` / `metric` narrow it. */
  async forAgent(
    agentId: string,
    options: { since: number; until: number; kind?: VitalKind; metric?: BaselineMetric },
  ): Promise<SigmaBucket[]> {
    let query = this.db
      .selectFrom('sigma_buckets')
      .selectAll()
      .where('agent_id', '=', agentId)
      .where('bucket_start', '>=', toDate(options.since))
      .where('bucket_start', '<', toDate(options.until));
    if (options.kind !== undefined) query = query.where('kind', '=', options.kind);
    if (options.metric !== undefined) query = query.where('metric', '=', options.metric);
    const rows = await query.orderBy('kind').orderBy('metric').orderBy('bucket_start').execute();
    return rows.map(toBucket);
  }

  /**
   * Every agent's worst σ (over its metrics and kinds) per `bucketMs` step from `since` (buckets starting in
   * [since, until)): the fleet's sparklines in one query, whatever the fleet's size. `agentId` narrows it
   * to one agent. Only buckets with judged vitals are returned.
   */
  async worstByBucket(options: {
    since: number;
    until: number;
    bucketMs: number;
    agentId?: string;
  }): Promise<AgentSigmaBucket[]> {
    const bucket = sql<number>`floor((extract(epoch from bucket_start) * 1000 - ${options.since}::float8) / ${options.bucketMs}::float8)::int`;
    let query = this.db
      .selectFrom('sigma_buckets')
      .select(['agent_id', bucket.as('bucket'), sql<number>`max(worst_sigma)`.as('sigma')])
      .where('bucket_start', '>=', toDate(options.since))
      .where('bucket_start', '<', toDate(options.until));
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    const rows = await query.groupBy(['agent_id', sql`2`]).orderBy('agent_id').orderBy(sql`2`).execute();
    return rows.map((row) => ({
      agent_id: row.agent_id,
      bucket: Number(row.bucket),
      sigma: Number(row.sigma),
    }));
  }

  /** Deletes the buckets that start before `cutoff` (the retention job); returns how many. */
  async deleteBefore(cutoff: number): Promise<number> {
    const result = await this.db
      .deleteFrom('sigma_buckets')
      .where('bucket_start', '<', toDate(cutoff))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** Two writes of one bucket as one: the worst σ, the samples of both, the band of the later. */
export function mergeBuckets(a: SigmaBucket, b: SigmaBucket): SigmaBucket {
  const later = b.last_ts >= a.last_ts ? b : a;
  return {
    ...later,
    worst_sigma: Math.max(a.worst_sigma, b.worst_sigma),
    samples: a.samples + b.samples,
  };
}

function toBucket(row: Selectable<SigmaBucketsTable>): SigmaBucket {
  return {
    agent_id: row.agent_id,
    kind: row.kind,
    metric: row.metric,
    bucket_start: toMillis(row.bucket_start),
    worst_sigma: Number(row.worst_sigma),
    samples: Number(row.samples),
    typical: Number(row.typical),
    low: Number(row.low),
    high: Number(row.high),
    threshold: Number(row.threshold),
    last_ts: toMillis(row.last_ts),
  };
}
