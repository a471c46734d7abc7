import './telemetry.js';

import { openBus } from '@immune/bus';
import { createLogger, describeConfig, loadConfigOrExit, runService } from '@immune/runtime';
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
    const { shutdown, readiness } = context;
    const store = await openStore({
      ...(config.DATABASE_URL === undefined
        ? { dataDir: config.IMMUNE_DATA_DIR }
        : { databaseUrl: config.DATABASE_URL }),
      logger,
    });
    shutdown.onPoolClose(() => store.close(), 'store');
    const bus = await openBus({
      natsUrl: config.NATS_URL,
      prefix: config.IMMUNE_SUBJECT_PREFIX,
      partitions: config.IMMUNE_PARTITIONS,
      name: 'healer',
    });
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this healer hears nobody');
    shutdown.onBusDrain(() => bus.drain(), 'bus');
    readiness.addCheck('bus', () => bus.status !== 'closed');

    await startHealer(context, { config, bus, store, metrics: telemetry });
  },
});
