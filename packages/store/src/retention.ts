import type { Logger } from '@immune/runtime';
import type { Store } from './open-store.js';
import { maintainVitalsPartitions, type VitalsMaintenance } from './vitals-partitions.js';

export interface VitalsRetentionJob {
  /**
   * Maintains once now: the partitions created ahead and the whole days dropped (both empty on TimescaleDB,
   * whose retention policy does this itself).
   */
  runOnce(): Promise<VitalsMaintenance>;
  stop(): void;
}

const NOTHING: VitalsMaintenance = { created: [], dropped: [] };

/**
 * Keeps a partitioned vitals table to `store.vitalsRetentionDays` and its upcoming days' partitions made
 * ahead: at start and then every `intervalMs` (default one hour). Run by the service that owns vitals
 * (ingest, whose recorder writes them). On TimescaleDB, or a store opened without migrating on a plain
 * table, it does nothing. Several services may run it at once: creating is serialised by an advisory lock
 * and dropping is `drop table if exists`.
 */
export function startVitalsRetention(
  store: Store,
  options: { intervalMs?: number; logger?: Logger; now?: () => number } = {},
): VitalsRetentionJob {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const active = store.vitalsLayout === 'partitioned';
  let running: Promise<VitalsMaintenance> | undefined;

  const runOnce = (): Promise<VitalsMaintenance> => {
    if (!active) return Promise.resolve(NOTHING);
    // A slow run must not overlap the next tick.
    running ??= maintainVitalsPartitions(store.db, {
      now: now(),
      retentionDays: store.vitalsRetentionDays,
    })
      .then((done) => {
        if (done.created.length > 0 || done.dropped.length > 0) {
          logger?.info(
            { ...done, days: store.vitalsRetentionDays },
            'vitals retention: partitions maintained',
          );
        }
        return done;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  if (!active) {
    logger?.debug(
      { layout: store.vitalsLayout },
      store.timescale
        ? 'vitals retention: handled by the TimescaleDB retention policy'
        : 'vitals retention: vitals is not partitioned, nothing to do',
    );
    return { runOnce, stop: () => {} };
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
