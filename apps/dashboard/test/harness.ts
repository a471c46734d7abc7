import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { HealerEnv, startHealer } from '@immune/healer';
import {
  createLogger,
  createPrometheusMetrics,
  hashOperatorToken,
  type Logger,
  loadConfig,
  type RunningService,
  runService,
  type ServiceContext,
} from '@immune/runtime';
import { type CapturedLogs, captureLogs } from '@immune/runtime/testing';
import { SentinelEnv, startSentinel } from '@immune/sentinel';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { DashboardEnv } from '../src/config.js';
import { type RunningDashboard, startDashboard } from '../src/service.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const VIEWER_TOKEN = 'viewer-token-0123456789ab';
/** What the healer and the dashboard are configured with: names, roles and hashes, never the tokens. */
export const OPERATOR_TOKEN_LINES = `alice:operator:${hashOperatorToken(OPERATOR_TOKEN)},victor:viewer:${hashOperatorToken(VIEWER_TOKEN)}`;
/** Every connection of a harness agrees on the vitals partitions, so sentinels can split them. */
export const PARTITIONS = 4;

/** Short sentinel windows so a quarantine takes well under a second (as the browser suite uses). */
const SENTINEL_ENV: Record<string, string> = {
  SENTINEL_PORT: '0',
  SENTINEL_CHECKPOINT_MS: '50',
  SENTINEL_FLEET_PUBLISH_MS: '100',
  SENTINEL_FLEET_HOLD_MS: '300',
  SENTINEL_FLEET_MIN_AGENTS: '50',
  SENTINEL_DRAIN_TIMEOUT_MS: '300',
  SENTINEL_MIN_SAMPLES: '15',
};

export interface HarnessSentinel {
  /** Stops it as a deployment does: its last state is checkpointed to PostgreSQL. */
  stop(): Promise<void>;
}

export interface DashboardHarness {
  url: string;
  origin: string;
  prefix: string;
  /** The test's own connection (publishes events, reads what the healer wrote). */
  bus: Bus;
  store: TestStore;
  dashboard: RunningDashboard;
  /** Everything the healer logged at info and above. */
  healerLogs: CapturedLogs;
  /** Starts a real sentinel on the harness's bus and schema (`SENTINEL_PARTITIONS` etc. in `env`). */
  startSentinel(env?: Record<string, string>): Promise<HarnessSentinel>;
  /** Logs in over HTTP and returns the cookie header to send. */
  login(token?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real dashboard service and the real healer, each on its own NATS connection (own subject prefix) and one
 * PostgreSQL schema, started through their exported start functions as their `main.ts` do.
 */
export async function startDashboardHarness(
  env: Record<string, string> = {},
  options: { healerEnv?: Record<string, string> } = {},
): Promise<DashboardHarness> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('dash');
  const store = await createTestStore();
  const bus = await connectNatsBus({ url: natsUrl, prefix, partitions: PARTITIONS, name: 'dashboard-test' });
  const level = (process.env.DASHBOARD_TEST_LOG ?? 'silent') as 'silent';
  const services: RunningService[] = [];
  // The healer's log is kept: what it did with a sentinel's refusal is only visible there.
  const healerLogs = captureLogs({ service: 'healer', level: 'info' });
  const runNamed = async <T>(
    name: string,
    start: (context: ServiceContext, bus: Bus) => Promise<T>,
    logger: Logger = createLogger({ service: name, level, format: 'json' }),
  ): Promise<{ started: T; service: RunningService }> => {
    const serviceBus = await connectNatsBus({ url: natsUrl, prefix, partitions: PARTITIONS, name });
    let started: T | undefined;
    const service = await runService({
      name,
      logger,
      ownProcess: false,
      shutdownTimeoutMs: 10_000,
      drainDelayMs: 0,
      async start(context) {
        context.shutdown.onBusDrain(() => serviceBus.drain(), 'bus');
        started = await start(context, serviceBus);
      },
    });
    services.push(service);
    return { started: started as T, service };
  };
  const run = async <T>(name: string, start: (context: ServiceContext, bus: Bus) => Promise<T>): Promise<T> =>
    (await runNamed(name, start)).started;
  await runNamed(
    'healer',
    (context, serviceBus) =>
      startHealer(context, {
        config: loadConfig(HealerEnv, {
          HEALER_PORT: '0',
          HOST: '127.0.0.1',
          IMMUNE_SUBJECT_PREFIX: prefix,
          HEALER_EXECUTION: 'simulated',
          IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
          LOG_LEVEL: 'info',
          ...options.healerEnv,
        }),
        bus: serviceBus,
        store,
        metrics: createPrometheusMetrics({ serviceName: 'healer' }),
      }),
    healerLogs.logger,
  );
  const dashboard = await run('dashboard', (context, serviceBus) =>
    startDashboard(context, {
      config: loadConfig(DashboardEnv, {
        DASHBOARD_PORT: '0',
        HOST: '127.0.0.1',
        IMMUNE_SUBJECT_PREFIX: prefix,
        LOG_LEVEL: level,
        IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
        ...env,
      }),
      bus: serviceBus,
      store,
      metrics: createPrometheusMetrics({ serviceName: 'dashboard' }),
    }),
  );
  const origin = `http://127.0.0.1:${dashboard.port}`;
  return {
    url: origin,
    origin,
    prefix,
    bus,
    store,
    dashboard,
    healerLogs,
    async startSentinel(sentinelEnv = {}) {
      const { service } = await runNamed('sentinel', (context, serviceBus) =>
        startSentinel(context, {
          config: loadConfig(SentinelEnv, {
            ...SENTINEL_ENV,
            HOST: '127.0.0.1',
            IMMUNE_SUBJECT_PREFIX: prefix,
            IMMUNE_PARTITIONS: String(PARTITIONS),
            IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
            LOG_LEVEL: level,
            ...sentinelEnv,
          }),
          bus: serviceBus,
          store,
          metrics: createPrometheusMetrics({ serviceName: 'sentinel' }),
        }),
      );
      return {
        async stop() {
          services.splice(services.indexOf(service), 1);
          await service.stop('test: sentinel stopped');
        },
      };
    },
    async login(token = OPERATOR_TOKEN) {
      const response = await fetch(`${origin}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ token }),
      });
      if (response.status !== 200)
        throw new Error(`login failed: ${response.status} ${await response.text()}`);
      const cookie = response.headers.get('set-cookie');
      if (cookie === null) throw new Error('login set no cookie');
      return cookie.split(';')[0]!;
    },
    async close() {
      for (const service of services.reverse()) await service.stop('test over');
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
    },
  };
}

/** A response's JSON, loosely typed for assertions. */
export interface Body {
  error: { code: string; message: string; details?: unknown };
  [key: string]: unknown;
}
export const jsonOf = async (response: Response): Promise<Body> => (await response.json()) as Body;
