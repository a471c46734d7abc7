import type { Bus } from '@immune/bus';
import { createHttpServer, type MetricsRegistry, type ServiceContext } from '@immune/runtime';
import type { Store } from '@immune/store';
import type { SentinelConfig } from './config.js';
import { Sentinel } from './sentinel.js';

export interface SentinelStartDeps {
  config: SentinelConfig;
  /** Opened (and drained at shutdown) by the caller: the sentinel's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
}

/**
 * Wires the sentinel into a running service: consumers, checkpoints on the shutdown phases, and health/metrics
 * over HTTP. The same function serves `main.ts` (one service per process) and single-process mode.
 */
export async function startSentinel(context: ServiceContext, deps: SentinelStartDeps): Promise<Sentinel> {
  const { config, bus, store, metrics } = deps;
  const { logger, shutdown } = context;
  const sentinel = new Sentinel({ config, bus, store, logger, meter: metrics.meter() });
  // Stop taking vitals, then checkpoint so they are acked while the connection is still up.
  shutdown.onStopWork(() => sentinel.stopWork(), 'sentinel');
  // Anything changed after the work phase (nothing, normally) still reaches PostgreSQL before the pool closes.
  shutdown.onStoreFlush(() => sentinel.checkpoint(), 'checkpoint');
  await sentinel.start();

  // Health and metrics only: the sentinel has no API of its own (commands go over the bus).
  const server = createHttpServer({ logger, readiness: context.readiness, metrics });
  await context.listen(server, { host: config.HOST, port: config.SENTINEL_PORT });
  return sentinel;
}
