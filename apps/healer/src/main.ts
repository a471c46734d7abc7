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
import { HealerEnv } from './config.js';
import { startHealer } from './start.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(HealerEnv, { service: 'healer' });
const logger = createLogger({ service: 'healer', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
logger.info({ config: describeConfig(HealerEnv, config) }, 'starting healer');

await runService({
  name: 'healer',
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
    const bus = ownBus(context, await openBusFromEnv(config, 'healer'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this healer hears nobody');

    await startHealer(context, { config, bus, store, metrics: telemetry });
  },
});
