import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, ownStore, runMain } from '@immune/runtime';
import { openStoreFromEnv } from '@immune/store';
import { SentinelEnv } from './config.js';
import { startSentinel } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(SentinelEnv, { service: 'sentinel' });

await runMain({
  name: 'sentinel',
  schema: SentinelEnv,
  config,
  telemetry,
  async start(context) {
    const { logger } = context;
    const store = ownStore(context, await openStoreFromEnv(config, { logger }));
    if (!config.DATABASE_URL)
      logger.warn('DATABASE_URL is not set: baselines are checkpointed to the embedded PGlite database');
    const bus = ownBus(context, await openBusFromEnv(config, 'sentinel'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this sentinel sees no other service');

    await startSentinel(context, { config, bus, store, metrics: telemetry });
  },
});
