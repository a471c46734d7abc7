import type { Bus } from '@immune/bus';
import type { Logger } from '@immune/runtime';
import type { Db } from '@immune/store';
import type { Meter } from '@opentelemetry/api';
import type { HealerConfig } from './config.js';
import {
  compositeEnforcer,
  createContainerEnforcer,
  createContainerExecutor,
  createGatewayEnforcer,
  createGatewayExecutor,
  createProcessEnforcer,
  createProcessExecutor,
  createSimulatedExecutor,
  createWebhookExecutor,
  type Enforcer,
  ExecutorRouter,
  type HealingExecutor,
  noopExecutor,
} from './executors/index.js';
import { Healer } from './healer.js';

export interface CreateHealerOptions {
  config: HealerConfig;
  bus: Bus;
  db: Db;
  logger: Logger;
  meter?: Meter;
  now?: () => number;
  /** Replaces or adds executors by name (tests, the single-process demo). */
  executors?: readonly HealingExecutor[];
  /** Replaces the enforcers HEALER_ENFORCEMENT names. */
  enforcers?: readonly Enforcer[];
  /** Environment of docker / kubectl (PATH). */
  commandEnv?: NodeJS.ProcessEnv;
}

/** Builds the healer from its configuration: executors, routes, enforcement and the workflow. */
export function createHealer(options: CreateHealerOptions): Healer {
  const { config, bus, logger } = options;
  const container = {
    dockerBin: config.HEALER_DOCKER_BIN,
    kubectlBin: config.HEALER_KUBECTL_BIN,
    dryRun: config.HEALER_CONTAINER_DRY_RUN,
    timeoutMs: config.HEALER_COMMAND_TIMEOUT_MS,
    logger,
    ...(options.commandEnv === undefined ? {} : { env: options.commandEnv }),
  };
  const executors = new Map<string, HealingExecutor>();
  for (const executor of [
    createSimulatedExecutor(),
    createGatewayExecutor(bus, {
      capMaxTokens: config.HEALER_CAP_MAX_TOKENS,
      throttleRpm: config.HEALER_THROTTLE_RPM,
      downgradeModel: config.HEALER_DOWNGRADE_MODEL,
      toolAllowlist: config.HEALER_TOOL_ALLOWLIST,
      rerouteProvider: config.HEALER_REROUTE_PROVIDER,
    }),
    createWebhookExecutor({
      secret: config.HEALER_WEBHOOK_SECRET,
      timeoutMs: config.HEALER_WEBHOOK_TIMEOUT_MS,
      retries: config.HEALER_WEBHOOK_RETRIES,
    }),
    createProcessExecutor(),
    createContainerExecutor(container),
    noopExecutor,
    ...(options.executors ?? []),
  ]) {
    executors.set(executor.name, executor);
  }
  const router = new ExecutorRouter(
    executors,
    config.HEALER_EXECUTION === 'simulated' ? simulatedRoutes() : config.HEALER_ACTION_EXECUTORS,
    config.HEALER_COMMAND_TIMEOUT_MS,
  );
  const enforcers =
    options.enforcers ??
    config.HEALER_ENFORCEMENT.map((name): Enforcer => {
      if (name === 'process') return createProcessEnforcer();
      if (name === 'container') return createContainerEnforcer(container);
      return createGatewayEnforcer(bus, options.now);
    });
  return new Healer({
    settings: {
      severeThreshold: config.SEVERE_DEVIATION_THRESHOLD,
      minConfidence: config.HEALER_MIN_CONFIDENCE,
      memoryDays: config.HEALER_MEMORY_DAYS,
      reconcileMs: config.HEALER_RECONCILE_MS,
      sentinelTimeoutMs: config.HEALER_SENTINEL_TIMEOUT_MS,
    },
    bus,
    db: options.db,
    router,
    enforcer: compositeEnforcer(enforcers, logger),
    logger,
    ...(options.meter === undefined ? {} : { meter: options.meter }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

function simulatedRoutes() {
  return {
    reset_memory: ['simulated'],
    rollback_prompt: ['simulated'],
    restart: ['simulated'],
    throttle: ['simulated'],
    cap_max_tokens: ['simulated'],
    strip_tools: ['simulated'],
    allowlist_tools: ['simulated'],
    pin_model: ['simulated'],
    downgrade_model: ['simulated'],
    reroute_provider: ['simulated'],
    wait_for_recovery: ['simulated'],
    block: ['simulated'],
  } as const;
}
