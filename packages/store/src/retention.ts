import type { Logger } from '@immune/runtime';
import type { Store } from './open-store.js';
import { SigmaBucketRepository } from './repositories/sigma-buckets.js';
import { DAY_MS, maintainVitalsPartitions, type VitalsMaintenance } from './vitals-partitions.js';

/** What one retention run did: the vitals partitions created and dropped, the σ history rows deleted. */
export interface RetentionRun extends VitalsMaintenance {
  sigmaBucketsDeleted: number;
}

export interface VitalsRetentionJob {
  /**
   * Maintains once now: the partitions created ahead and the whole days dropped (both empty on TimescaleDB,
   * whose retention policy does this itself), and the σ history older than the retention deleted.
   */
  runOnce(): Promise<RetentionRun>;
  stop(): void;
}

const NOTHING: VitalsMaintenance = { created: [], dropped: [] };

/**
 * Keeps vitals, and the σ history derived from them (`sigma_buckets`), to `store.vitalsRetentionDays`, and a
 * partitioned vitals table's upcoming days' partitions made ahead: at start and then every `intervalMs`
 * (default one hour). Run by the service that owns vitals (ingest, whose recorder writes them). On
 * TimescaleDB, or a store opened without migrating on a plain table, vitals are left to the retention policy
 * (or to nobody); the σ history is pruned on every layout. Several services may run it at once: creating is
 * serialised by an advisory lock, dropping is `drop table if exists`, and deleting old buckets is idempotent.
 */
export function startVitalsRetention(
  store: Store,
  options: { intervalMs?: number; logger?: Logger; now?: () => number } = {},
): VitalsRetentionJob {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const partitioned = store.vitalsLayout === 'partitioned';
  const sigmaBuckets = new SigmaBucketRepository(store.db);
  let running: Promise<RetentionRun> | undefined;

  const run = async (): Promise<RetentionRun> => {
    const at = now();
    const done = partitioned
      ? await maintainVitalsPartitions(store.db, { now: at, retentionDays: store.vitalsRetentionDays })
      : NOTHING;
    const sigmaBucketsDeleted = await sigmaBuckets.deleteBefore(at - store.vitalsRetentionDays * DAY_MS);
    if (done.created.length > 0 || done.dropped.length > 0 || sigmaBucketsDeleted > 0) {
      logger?.info(
        { ...done, sigmaBucketsDeleted, days: store.vitalsRetentionDays },
        'vitals retention: partitions maintained, σ history pruned',
      );
    }
    return { ...done, sigmaBucketsDeleted };
  };
  // A slow run must not overlap the next tick.
  const runOnce = (): Promise<RetentionRun> => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };

  if (!partitioned) {
    logger?.debug(
      { layout: store.vitalsLayout },
      store.timescale
        ? 'vitals retention: vitals handled by the TimescaleDB retention policy, σ history pruned here'
        : 'vitals retention: vitals is not partitioned, only the σ history is pruned',
    );
  }
  const tick = () => {
    runOnce().catch((error: unknown) =>
      logger?.error({ err: error }, 'vitals retention: maintenance failed'),
    );
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 3_600_000);
  // Retention is housekeeping: it must never be the reason a process stays up.
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
