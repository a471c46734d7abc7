import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { HealerEnv, startHealer } from '@immune/healer';
import {
  createLogger,
  createPrometheusMetrics,
  hashOperatorToken,
  loadConfig,
  type RunningService,
  runService,
  type ServiceContext,
} from '@immune/runtime';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { DashboardEnv } from '../src/config.js';
import { type RunningDashboard, startDashboard } from '../src/service.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const VIEWER_TOKEN = 'viewer-token-0123456789ab';
/** What the healer and the dashboard are configured with: names, roles and hashes, never the tokens. */
export const OPERATOR_TOKEN_LINES = `alice:operator:${hashOperatorToken(OPERATOR_TOKEN)},victor:viewer:${hashOperatorToken(VIEWER_TOKEN)}`;

export interface DashboardHarness {
  url: string;
  origin: string;
  prefix: string;
  /** The test's own connection (publishes events, reads what the healer wrote). */
  bus: Bus;
  store: TestStore;
  dashboard: RunningDashboard;
  /** Logs in over HTTP and returns the cookie header to send. */
  login(token?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real dashboard service and the real healer, each on its own NATS connection (own subject prefix) and one
 * PostgreSQL schema, started through their exported start functions as their `main.ts` do.
 */
export async function startDashboardHarness(env: Record<string, string> = {}): Promise<DashboardHarness> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('dash');
  const store = await createTestStore();
  const bus = await connectNatsBus({ url: natsUrl, prefix, name: 'dashboard-test' });
  const level = (process.env.DASHBOARD_TEST_LOG ?? 'silent') as 'silent';
  const services: RunningService[] = [];
  const run = async <T>(
    name: string,
    start: (context: ServiceContext, bus: Bus) => Promise<T>,
  ): Promise<T> => {
    const serviceBus = await connectNatsBus({ url: natsUrl, prefix, name });
    let started: T | undefined;
    services.push(
      await runService({
        name,
        logger: createLogger({ service: name, level, format: 'json' }),
        ownProcess: false,
        shutdownTimeoutMs: 10_000,
        drainDelayMs: 0,
        async start(context) {
          context.shutdown.onBusDrain(() => serviceBus.drain(), 'bus');
          started = await start(context, serviceBus);
        },
      }),
    );
    return started as T;
  };
  await run('healer', (context, serviceBus) =>
    startHealer(context, {
      config: loadConfig(HealerEnv, {
        HEALER_PORT: '0',
        HOST: '127.0.0.1',
        IMMUNE_SUBJECT_PREFIX: prefix,
        HEALER_EXECUTION: 'simulated',
        IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
        LOG_LEVEL: level,
      }),
      bus: serviceBus,
      store,
      metrics: createPrometheusMetrics({ serviceName: 'healer' }),
    }),
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
