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
import { SentinelEnv } from './config.js';
import { startSentinel } from './start.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(SentinelEnv, { service: 'sentinel' });
const logger = createLogger({ service: 'sentinel', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
logger.info({ config: describeConfig(SentinelEnv, config) }, 'starting sentinel');

await runService({
  name: 'sentinel',
  logger,
  telemetry,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
  async start(context) {
    const store = ownStore(
      context,
      await openStore({
        ...(config.DATABASE_URL === undefined ? {} : { databaseUrl: config.DATABASE_URL }),
        logger,
      }),
    );
    if (!config.DATABASE_URL)
      logger.warn('DATABASE_URL is not set: baselines are checkpointed to the embedded PGlite database');

    const bus = ownBus(context, await openBusFromEnv(config, 'sentinel'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this sentinel sees no other service');

    await startSentinel(context, { config, bus, store, metrics: telemetry });
  },
});
