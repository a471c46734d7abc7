/**
 * The order every service shuts down in. Each phase only starts when the one before has finished or timed out,
 * so what a later phase closes is no longer used by an earlier one:
 *
 * 1. `http`: stop accepting connections, let in-flight requests and streams finish.
 * 2. `work`: stop timers, loops and background jobs that publish or write.
 * 3. `bus`: drain subscriptions (finish handlers in flight) and flush pending publishes.
 * 4. `store`: flush buffered writes such as the batched vitals writer.
 * 5. `pool`: close database and other connection pools.
 * 6. `telemetry`: flush spans and metrics, last, so everything before is still traced.
 *
 * Readiness turns 503 before all of them, the moment shutdown starts.
 */
export const SHUTDOWN_PHASES = ['http', 'work', 'bus', 'store', 'pool', 'telemetry'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** The `event` field of the log line written when a phase has finished. */
export const PHASE_DONE_EVENTS: Readonly<Record<ShutdownPhase, string>> = {
  http: 'http-closed',
  work: 'work-stopped',
  bus: 'bus-drained',
  store: 'store-flushed',
  pool: 'pool-closed',
  telemetry: 'telemetry-flushed',
};

/**
 * Per-phase limits. HTTP gets the most because in-flight requests deserve to finish. The whole sequence is
 * further capped by SHUTDOWN_TIMEOUT_MS (25 s by default), after which the process exits 1 wherever it is.
 */
export const DEFAULT_PHASE_TIMEOUTS_MS: Readonly<Record<ShutdownPhase, number>> = {
  http: 15_000,
  work: 5_000,
  bus: 5_000,
  store: 5_000,
  pool: 3_000,
  telemetry: 3_000,
};
