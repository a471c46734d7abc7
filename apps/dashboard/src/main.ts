import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import {
  createLogger,
  describeConfig,
  loadConfigOrExit,
  ownBus,
  ownStore,
  runService,
} from '@immune/runtime';
import { openStore } from '@immune/store';
import { DashboardEnv } from './config.js';
import { announceGeneratedToken, startDashboard } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(DashboardEnv, { service: 'dashboard' });
const logger = createLogger({ service: 'dashboard', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
logger.info({ config: describeConfig(DashboardEnv, config) }, 'starting dashboard');

await runService({
  name: 'dashboard',
  logger,
  telemetry,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
  async start(context) {
    const store = ownStore(
      context,
      await openStore({
        ...(config.DATABASE_URL === undefined
          ? { dataDir: config.IMMUNE_DATA_DIR }
          : { databaseUrl: config.DATABASE_URL }),
        logger,
      }),
    );
    const bus = ownBus(context, await openBusFromEnv(config, 'dashboard'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this dashboard sees no other service');
    const running = await startDashboard(context, { config, bus, store, metrics: telemetry });
    if (running.generatedToken) {
      announceGeneratedToken(`http://localhost:${running.port}`, running.generatedToken, (text) =>
        process.stdout.write(text),
      );
    }
  },
});
