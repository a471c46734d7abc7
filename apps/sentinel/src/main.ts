import './telemetry.js';

import { openBus } from '@immune/bus';
import { createLogger, describeConfig, loadConfigOrExit, runService } from '@immune/runtime';
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
    const { shutdown, readiness } = context;
    const store = await openStore({
      ...(config.DATABASE_URL === undefined ? {} : { databaseUrl: config.DATABASE_URL }),
      logger,
    });
    shutdown.onPoolClose(() => store.close(), 'store');
    if (!config.DATABASE_URL)
      logger.warn('DATABASE_URL is not set: baselines are checkpointed to the embedded PGlite database');

    const bus = await openBus({
      natsUrl: config.NATS_URL,
      prefix: config.IMMUNE_SUBJECT_PREFIX,
      partitions: config.IMMUNE_PARTITIONS,
      name: 'sentinel',
    });
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this sentinel sees no other service');
    shutdown.onBusDrain(() => bus.drain(), 'bus');
    readiness.addCheck('bus', () => bus.status !== 'closed');

    await startSentinel(context, { config, bus, store, metrics: telemetry });
  },
});
