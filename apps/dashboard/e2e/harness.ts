import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bus, connectNatsBus, type EventEnvelope } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { HealerEnv, type HealingExecutor, startHealer } from '@immune/healer';
import { IngestEnv, startIngest } from '@immune/ingest';
import {
  createLogger,
  createPrometheusMetrics,
  hashOperatorToken,
  loadConfig,
  type RunningService,
  runService,
  type ServiceContext,
} from '@immune/runtime';
import { SentinelEnv, startSentinel } from '@immune/sentinel';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';
import { DashboardEnv } from '../src/config.js';
import { startDashboard } from '../src/service.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const VIEWER_TOKEN = 'viewer-token-0123456789ab';
/** What the healer and the dashboard are configured with: names, roles and hashes, never the tokens. */
export const OPERATOR_TOKEN_LINES = `alice:operator:${hashOperatorToken(OPERATOR_TOKEN)},victor:viewer:${hashOperatorToken(VIEWER_TOKEN)}`;
export const CHROMIUM = '/usr/bin/chromium';
const dashboardRoot = fileURLToPath(new URL('..', import.meta.url));

/** Short windows so a whole quarantine → heal → probation loop takes seconds (as packages/e2e uses). */
const SENTINEL_ENV: Record<string, string> = {
  SENTINEL_PORT: '0',
  SENTINEL_CHECKPOINT_MS: '50',
  SENTINEL_FLEET_PUBLISH_MS: '100',
  SENTINEL_FLEET_HOLD_MS: '300',
  // The suite makes several agents sick within a minute, one after another: not a fleet-wide cause.
  SENTINEL_FLEET_MIN_AGENTS: '50',
  SENTINEL_SUSPECT_WINDOW_MS: '5000',
  SENTINEL_DRAIN_TIMEOUT_MS: '300',
  SENTINEL_MIN_SAMPLES: '15',
  SENTINEL_PROBATION_MS: '1000',
  SENTINEL_PROBATION_MIN_VITALS: '3',
  // The σ history (sparklines, bands) is written every 200 ms, so a page opened after a case shows it.
  SENTINEL_SIGMA_FLUSH_MS: '200',
};

/** Every cure works: what is under test is the dashboard, not the ladder. */
const curesEverything: HealingExecutor = {
  name: 'simulated',
  supports: () => true,
  async apply(request) {
    return { ok: true, detail: `${request.action} works` };
  },
  async revert() {
    return false;
  },
};

export interface Deployment {
  url: string;
  bus: Bus;
  /** Every event on the bus, with the time this process received it (for the detection-to-screen figure). */
  events: Array<{ event: EventEnvelope; receivedAt: number }>;
  close(): Promise<void>;
}

/**
 * The real sentinel, ingest (its vital recorder), healer and dashboard, each on its own NATS connection (one subject prefix) and one
 * PostgreSQL schema, wired through their service functions as their main.ts do; the web app freshly built.
 */
export async function startDeployment(): Promise<Deployment> {
  await build({ configFile: join(dashboardRoot, 'vite.config.ts'), logLevel: 'warn' });
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('dashe2e');
  const common = {
    HOST: '127.0.0.1',
    IMMUNE_SUBJECT_PREFIX: prefix,
    IMMUNE_PARTITIONS: '4',
    IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
  };
  const store: TestStore = await createTestStore();
  const bus = await connectNatsBus({ url: natsUrl, prefix, partitions: 4, name: 'dashboard-e2e' });
  const events: Deployment['events'] = [];
  const watcher = await bus.subscribeEvents({
    handler: async (event) => void events.push({ event, receivedAt: Date.now() }),
  });
  const level = (process.env.DASHBOARD_E2E_LOG ?? 'silent') as 'silent';
  const services: RunningService[] = [];
  const run = async <T>(name: string, start: (context: ServiceContext, bus: Bus) => Promise<T>) => {
    const serviceBus = await connectNatsBus({ url: natsUrl, prefix, partitions: 4, name });
    let started: T | undefined;
    services.push(
      await runService({
        name,
        logger: createLogger({ service: name, level, format: 'json' }),
        ownProcess: false,
        shutdownTimeoutMs: 15_000,
        drainDelayMs: 0,
        async start(context) {
          context.shutdown.onBusDrain(() => serviceBus.drain(), 'bus');
          started = await start(context, serviceBus);
        },
      }),
    );
    return started as T;
  };
  const metrics = (serviceName: string) => createPrometheusMetrics({ serviceName });
  await run('sentinel', (context, serviceBus) =>
    startSentinel(context, {
      config: loadConfig(SentinelEnv, { ...SENTINEL_ENV, ...common, LOG_LEVEL: level }),
      bus: serviceBus,
      store,
      metrics: metrics('sentinel'),
    }),
  );
  // Ingest's recorder writes the vitals into PostgreSQL, where the agent page's series comes from.
  await run('ingest', (context, serviceBus) =>
    startIngest(context, {
      config: loadConfig(IngestEnv, {
        ...common,
        INGEST_PORT: '0',
        INGEST_API_KEY: 'imk_dashboard-e2e-0123456789abcdef',
        INGEST_RECORDER_FLUSH_MS: '50',
        LOG_LEVEL: level,
      }),
      bus: serviceBus,
      store,
      metrics: metrics('ingest'),
    }),
  );
  await run('healer', (context, serviceBus) =>
    startHealer(context, {
      config: loadConfig(HealerEnv, {
        ...common,
        HEALER_PORT: '0',
        HEALER_RECONCILE_MS: '500',
        HEALER_SENTINEL_TIMEOUT_MS: '3000',
        HEALER_EXECUTION: 'simulated',
        LOG_LEVEL: level,
      }),
      bus: serviceBus,
      store,
      metrics: metrics('healer'),
      executors: [curesEverything],
    }),
  );
  const dashboard = await run('dashboard', (context, serviceBus) =>
    startDashboard(context, {
      config: loadConfig(DashboardEnv, {
        ...common,
        DASHBOARD_PORT: '0',
        LOG_LEVEL: level,
        IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKEN_LINES,
      }),
      bus: serviceBus,
      store,
      metrics: metrics('dashboard'),
    }),
  );
  return {
    url: `http://127.0.0.1:${dashboard.port}`,
    bus,
    events,
    async close() {
      // Dashboard first (it asks the others), then the healer, then the sentinel.
      for (const service of services.reverse()) await service.stop('test over');
      await watcher.stop();
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
    },
  };
}

/**
 * Debian's Chromium, headless, with a fresh profile per launch (playwright-core makes a temporary
 * --user-data-dir and removes it on close). Missing Chromium is a failure, never a skip.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
