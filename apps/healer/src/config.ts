import { BusEnv } from '@immune/bus';
import { HEALING_ACTIONS } from '@immune/core';
import { type Config, OperatorTokensEnv, Secret, serviceEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

export const EXECUTOR_NAMES = ['simulated', 'gateway', 'webhook', 'process', 'container', 'noop'] as const;
export type ExecutorName = (typeof EXECUTOR_NAMES)[number];

export const ENFORCER_NAMES = ['gateway', 'process', 'container'] as const;
export type EnforcerName = (typeof ENFORCER_NAMES)[number];

/**
 * Everything the healer reads from its environment. It serves only /healthz, /readyz and /metrics on
 * HEALER_PORT; its real interface is the bus (events in and out, `immune.cmd.healer.*` commands).
 */
export const HealerEnv = Type.Object({
  ...serviceEnv('HEALER_PORT', 4300),
  ...BusEnv,
  ...StoreEnv,
  ...OperatorTokensEnv,
  /** Infections at or above this many σ wait for an operator's approval; milder ones heal automatically. */
  SEVERE_DEVIATION_THRESHOLD: Type.Number({ minimum: 0, default: 5 }),
  /** Hypotheses under this confidence get no ladder of their own (the top one always does). */
  HEALER_MIN_CONFIDENCE: Type.Number({ minimum: 0, maximum: 1, default: 0.05 }),
  /** Immune memory older than this no longer steers plans, days. */
  HEALER_MEMORY_DAYS: Type.Integer({ minimum: 1, default: 90 }),
  /**
   * `simulated` runs every action in the simulation (the demo fleet); `real` uses HEALER_ACTION_EXECUTORS.
   */
  HEALER_EXECUTION: Type.Union([Type.Literal('real'), Type.Literal('simulated')], { default: 'real' }),
  /**
   * Which executors may carry out an action, in order of preference (JSON object, action -> list); the first
   * one that can reach the agent (registered control URL, PID, container) runs it. Entries override the
   * defaults per action.
   */
  HEALER_ACTION_EXECUTORS: Type.Record(
    Type.Enum(HEALING_ACTIONS),
    Type.Array(Type.Enum(EXECUTOR_NAMES), { minItems: 1 }),
    { default: {} },
  ),
  /** What holds an agent while it waits in quarantine, besides the gateway's own block: a list, or empty. */
  HEALER_ENFORCEMENT: Type.Array(Type.Enum(ENFORCER_NAMES), { default: ['gateway'] }),
  /** Signs webhook calls (HMAC-SHA256). Without it the webhook executor refuses to call agents. */
  HEALER_WEBHOOK_SECRET: Type.Optional(Secret(Type.String({ minLength: 16 }))),
  HEALER_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5_000 }),
  HEALER_WEBHOOK_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
  HEALER_DOCKER_BIN: Type.String({ minLength: 1, default: 'docker' }),
  HEALER_KUBECTL_BIN: Type.String({ minLength: 1, default: 'kubectl' }),
  /** Log the docker / kubectl command lines instead of running them. */
  HEALER_CONTAINER_DRY_RUN: Type.Boolean({ default: false }),
  HEALER_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  /** Gateway cures: max_tokens cap, requests per minute for throttle, model for downgrade and pins. */
  HEALER_CAP_MAX_TOKENS: Type.Integer({ minimum: 1, default: 1024 }),
  HEALER_THROTTLE_RPM: Type.Integer({ minimum: 1, default: 6 }),
  HEALER_DOWNGRADE_MODEL: Type.String({ minLength: 1, default: 'gpt-4o-mini' }),
  /** Tools allowed by `allowlist_tools` (none = every tool stripped). */
  HEALER_TOOL_ALLOWLIST: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Provider `reroute_provider` sends the agent's OpenAI-style traffic to; unset = the action cannot run. */
  HEALER_REROUTE_PROVIDER: Type.Optional(Type.String({ minLength: 1 })),
  /** How often unfinished workflows are looked at again (sentinel unavailable, agent still draining), ms. */
  HEALER_RECONCILE_MS: Type.Integer({ minimum: 100, default: 5_000 }),
  /** How long the sentinel has to answer a lifecycle command, ms. */
  HEALER_SENTINEL_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 3_000 }),
});
export type HealerConfig = Config<typeof HealerEnv>;
