import type { Bus } from '@immune/bus';
import {
  httpLimits,
  type MetricsRegistry,
  monitorBus,
  monitorDatabase,
  type ServiceContext,
  serveApp,
} from '@immune/runtime';
import { type Store, storeAnswers } from '@immune/store';
import { sentinelApp } from './app.js';
import type { SentinelConfig } from './config.js';
import { Sentinel } from './sentinel.js';

export interface SentinelServiceDeps {
  config: SentinelConfig;
  /** Opened (and drained at shutdown) by the caller: the sentinel's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
}

export interface RunningSentinel {
  /** The bound port (SENTINEL_PORT=0 picks a free one). */
  port: number;
  sentinel: Sentinel;
}

/**
 * Wires the sentinel into a running service: consumers, checkpoints on the shutdown phases, and the HTTP app
 * (health and metrics). The same function serves `main.ts` (one service per process) and single-process mode.
 */
export async function startSentinel(
  context: ServiceContext,
  deps: SentinelServiceDeps,
): Promise<RunningSentinel> {
  const { config, bus, store, metrics } = deps;
  const { logger, shutdown } = context;
  const sentinel = new Sentinel({ config, bus, store, logger, meter: metrics.meter() });
  // Stop taking vitals, then checkpoint so they are acked while the connection is still up.
  shutdown.onStopWork(() => sentinel.stopWork(), 'sentinel');
  // Anything changed after the work phase (nothing, normally) still reaches PostgreSQL before the pool closes.
  shutdown.onStoreFlush(() => sentinel.checkpoint(), 'checkpoint');
  await sentinel.start();
  // Ready while its consumers run on a connected bus: a sentinel cut off from NATS judges nothing.
  context.readiness.addCheck('consumers', () => sentinel.consuming && bus.status === 'connected');
  monitorBus(context, bus, metrics.meter());
  monitorDatabase(context, () => storeAnswers(store), metrics.meter());

  const port = await serveApp(
    context,
    sentinelApp,
    {},
    {
      metrics,
      host: config.HOST,
      port: config.SENTINEL_PORT,
      limits: httpLimits(config),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
  );
  return { port, sentinel };
}
