import type { Logger } from '@immune/runtime';
import type { Store } from './open-store.js';
import { pruneVitals } from './repositories/vitals.js';

export interface VitalsRetentionJob {
  /** Prunes once now; resolves with the number of vitals deleted (0 on TimescaleDB). */
  runOnce(): Promise<number>;
  stop(): void;
}

const DAY_MS = 86_400_000;

/**
 * Keeps a plain vitals table to `store.vitalsRetentionDays`: prunes at start and then every `intervalMs`
 * (default one hour). On TimescaleDB the retention policy already drops old chunks, so the job does nothing.
 * Several services may run it at once; the deletes are idempotent.
 */
export function startVitalsRetention(
  store: Store,
  options: { intervalMs?: number; logger?: Logger; now?: () => number } = {},
): VitalsRetentionJob {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  let running: Promise<number> | undefined;

  const runOnce = (): Promise<number> => {
    if (store.timescale) return Promise.resolve(0);
    // A slow prune must not overlap the next tick.
    running ??= pruneVitals(store.db, now() - store.vitalsRetentionDays * DAY_MS)
      .then((deleted) => {
        if (deleted > 0)
          logger?.info({ deleted, days: store.vitalsRetentionDays }, 'vitals retention: pruned');
        return deleted;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  if (store.timescale) {
    logger?.debug('vitals retention: handled by the TimescaleDB retention policy');
    return { runOnce, stop: () => {} };
  }
  const tick = () => {
    runOnce().catch((error: unknown) => logger?.error({ err: error }, 'vitals retention: prune failed'));
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 3_600_000);
  // Retention is housekeeping: it must never be the reason a process stays up.
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
