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
import { createRepositories, type Store, storeAnswers } from '@immune/store';
import { dashboardApp } from './app.js';
import { OperatorDirectory } from './auth/operators.js';
import { SessionCodec } from './auth/session-cookie.js';
import type { DashboardConfig } from './config.js';
import { LiveHub } from './live/live-hub.js';
import { DEFAULT_WEB_DIR } from './web-files.js';

export interface DashboardServiceDeps {
  config: DashboardConfig;
  /** Opened (and drained at shutdown) by the caller: the dashboard's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
}

export interface RunningDashboard {
  port: number;
  hub: LiveHub;
}

/**
 * Wires the dashboard into a running service: operators and sessions, the live hub (one event subscription and
 * one quarantine watch for every browser), the API and the web app. The same function serves `main.ts` and
 * single-process mode.
 */
export async function startDashboard(
  context: ServiceContext,
  deps: DashboardServiceDeps,
): Promise<RunningDashboard> {
  const { config, bus, store, metrics } = deps;
  const { logger, shutdown } = context;
  const tokens = loadOperatorTokens(config);
  if (tokens.size === 0) {
    logger.warn(
      { event: 'no-operator-tokens' },
      'no operator tokens configured (IMMUNE_OPERATOR_TOKENS / IMMUNE_OPERATOR_TOKENS_FILE): nobody can log in; `immune token create` mints one',
    );
  }
  const operators = new OperatorDirectory(tokens);
  if (config.DASHBOARD_SESSION_SECRET === undefined) {
    logger.info('DASHBOARD_SESSION_SECRET is not set: sessions last until this process stops');
  }
  const hub = new LiveHub(bus, logger);
  await hub.start();
  shutdown.onStopWork(() => hub.stop(), 'live-hub');

  // Ready while PostgreSQL answers: every page but the live feed reads it. A NATS outage only stops the live
  // feed and the commands (which answer 503 themselves), so it is reported, not a readiness failure.
  context.readiness.addCheck('postgresql', () => storeAnswers(store));
  monitorBus(context, bus, metrics.meter());
  monitorDatabase(context, () => storeAnswers(store), metrics.meter());

  const port = await serveApp(
    context,
    dashboardApp,
    {
      bus,
      repos: createRepositories(store.db),
      hub,
      operators,
      sessions: new SessionCodec(config.DASHBOARD_SESSION_SECRET, config.DASHBOARD_SESSION_TTL_MS),
      allowedOrigins: config.DASHBOARD_ALLOWED_ORIGINS,
      loginsPerMinute: config.DASHBOARD_LOGIN_RATE_PER_MINUTE,
      cookieSecure: config.DASHBOARD_COOKIE_SECURE,
      commandTimeoutMs: config.DASHBOARD_COMMAND_TIMEOUT_MS,
      stream: {
        frameMs: config.DASHBOARD_STREAM_FRAME_MS,
        heartbeatMs: config.DASHBOARD_STREAM_HEARTBEAT_MS,
        retryMs: 2000,
        maxEventsPerFrame: 500,
        maxBufferedBytes: 4 * 1024 * 1024,
      },
      webDir: config.DASHBOARD_WEB_DIR ?? DEFAULT_WEB_DIR,
      draining: context.draining,
    },
    {
      metrics,
      host: config.HOST,
      port: config.DASHBOARD_PORT,
      limits: httpLimits(config),
      // Decisions and logins are small; nothing the dashboard accepts comes near a megabyte.
      bodyLimitBytes: Math.min(config.BODY_LIMIT_BYTES, 1024 * 1024),
      trustProxy: config.DASHBOARD_TRUST_PROXY,
    },
  );
  return { port, hub };
}
