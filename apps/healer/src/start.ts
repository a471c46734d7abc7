import type { Bus } from '@immune/bus';
import { createHttpServer, type MetricsRegistry, type ServiceContext } from '@immune/runtime';
import type { Store } from '@immune/store';
import type { HealerConfig } from './config.js';
import type { HealingExecutor } from './executors/index.js';
import { createHealerService, type HealerService } from './service.js';

export interface HealerStartDeps {
  config: HealerConfig;
  /** Opened (and drained at shutdown) by the caller: the healer's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
  /** Replaces or adds executors by name (the single-process demo plugs its chaos cures in here). */
  executors?: readonly HealingExecutor[];
}

/**
 * Wires the healer into a running service: workflow, commands, the stop-work hook, and health/metrics over
 * HTTP. The same function serves `main.ts` (one service per process) and single-process mode.
 */
export async function startHealer(context: ServiceContext, deps: HealerStartDeps): Promise<HealerService> {
  const { config, bus, store, metrics } = deps;
  const service = createHealerService({
    config,
    bus,
    db: store.db,
    logger: context.logger,
    meter: metrics.meter(),
    ...(deps.executors ? { executors: deps.executors } : {}),
  });
  await service.start();
  // Before the bus drains: commands stop, handlers and healing steps in flight finish and are acked.
  context.shutdown.onStopWork(() => service.stop(), 'healer');

  const server = createHttpServer({
    logger: context.logger,
    readiness: context.readiness,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  await context.listen(server, { host: config.HOST, port: config.HEALER_PORT });
  return service;
}
