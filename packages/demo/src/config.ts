import { BusEnv } from '@immune/bus';
import { type Config, LogEnv, ShutdownEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

/**
 * What single-process mode reads on top of each service's own variables (every service also reads its usual
 * ones, e.g. GATEWAY_PORT, SENTINEL_PROBATION_MS, SEVERE_DEVIATION_THRESHOLD).
 */
export const SingleProcessEnv = Type.Object({
  ...LogEnv,
  ...BusEnv,
  ...StoreEnv,
  ...ShutdownEnv,
  // The story is the console's content here; service logs only speak up for warnings.
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'warn' }),
  /** Stop after this many seconds; unset or 0 runs until Ctrl-C. */
  RUN_DURATION_SECONDS: Type.Number({ minimum: 0, default: 0 }),
  /** `0` runs only the services, ready for real agents: no mock upstream, no demo fleet, no chaos. */
  DEMO: Type.Boolean({ default: true }),
  DEMO_FLEET_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 12 }),
  /** How fast the demo agents call: 2 halves every pause. */
  DEMO_SPEED: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 1 }),
  /** Chaos starts (and repeats) on its schedule; `0` keeps the fleet healthy. */
  DEMO_CHAOS: Type.Boolean({ default: true }),
  /**
   * Seconds after which a severe case is approved on the operator's behalf, so that an unattended demo shows
   * the whole loop (tests, recordings). Unset or 0: never; the operator approves with `pnpm immune approve`
   * (over the dashboard's HTTP API, which also reaches the embedded bus) or in the dashboard.
   */
  DEMO_AUTO_APPROVE_SECONDS: Type.Optional(Type.Number({ minimum: 0 })),
  /**
   * With the demo fleet on PGlite's default folder, each `pnpm start` begins from an empty database: the last
   * run's quarantines and open cases would otherwise meet a new chaos schedule and spoil its story. `1` keeps
   * it. A folder set with IMMUNE_DATA_DIR, PostgreSQL, and DEMO=0 are never emptied.
   */
  DEMO_KEEP_DATA: Type.Boolean({ default: false }),
  MOCK_UPSTREAM_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4500 }),
  /** The demo MCP server the fleet's tool calls reach through the MCP proxy. */
  DEMO_MCP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4501 }),
});
export type SingleProcessConfig = Config<typeof SingleProcessEnv>;
