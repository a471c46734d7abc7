import type { Bus } from '@immune/bus';
import {
  httpLimits,
  loadOperatorTokens,
  type MetricsRegistry,
  monitorBus,
  monitorDatabase,
  type ServiceContext,
  serveApp,
} from '@immune/runtime';
import { type Store, storeAnswers } from '@immune/store';
import { healerApp } from './app.js';
import { serveCommands } from './commands.js';
import type { HealerConfig } from './config.js';
import { createHealer } from './create-healer.js';
import type { HealingExecutor } from './executors/index.js';
import type { Healer } from './healer.js';

export interface HealerServiceDeps {
  config: HealerConfig;
  /** Opened (and drained at shutdown) by the caller: the healer's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
  /** Replaces or adds executors by name (the single-process demo plugs its chaos cures in here). */
  executors?: readonly HealingExecutor[];
}

export interface RunningHealer {
  /** The bound port (HEALER_PORT=0 picks a free one). */
  port: number;
  healer: Healer;
}

/**
 * Wires the healer into a running service: workflow, operator commands, the stop-work hook, and the HTTP app
 * (health and metrics). The same function serves `main.ts` (one service per process) and single-process mode.
 */
export async function startHealer(context: ServiceContext, deps: HealerServiceDeps): Promise<RunningHealer> {
  const { config, bus, store, metrics } = deps;
  const healer = createHealer({
    config,
    bus,
    db: store.db,
    logger: context.logger,
    meter: metrics.meter(),
    ...(deps.executors ? { executors: deps.executors } : {}),
  });
  const tokens = loadOperatorTokens(config);
  if (tokens.size === 0)
    context.logger.warn(
      { event: 'no-operator-tokens' },
      'no operator tokens configured (IMMUNE_OPERATOR_TOKENS / IMMUNE_OPERATOR_TOKENS_FILE): every operator command will be refused',
    );
  const commands = await serveCommands(bus, healer, tokens);
  await healer.start();
  // Ready while its events consumer runs on a connected bus (commands are served on the same connection).
  context.readiness.addCheck('consumers', () => healer.consuming && bus.status === 'connected');
  monitorBus(context, bus, metrics.meter());
  monitorDatabase(context, () => storeAnswers(store), metrics.meter());
  // Before the bus drains: commands stop, handlers and healing steps in flight finish and are acked.
  context.shutdown.onStopWork(async () => {
    await Promise.all(commands.map((command) => command.stop()));
    await healer.stop();
  }, 'healer');

  const port = await serveApp(
    context,
    healerApp,
    {},
    {
      metrics,
      host: config.HOST,
      port: config.HEALER_PORT,
      limits: httpLimits(config),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
  );
  return { port, healer };
}
