import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, ownStore, runMain } from '@immune/runtime';
import { openStoreFromEnv } from '@immune/store';
import { HealerEnv } from './config.js';
import { startHealer } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(HealerEnv, { service: 'healer' });

await runMain({
  name: 'healer',
  schema: HealerEnv,
  config,
  telemetry,
  async start(context) {
    const { logger } = context;
    const store = ownStore(context, await openStoreFromEnv(config, { logger }));
    if (!config.DATABASE_URL)
      logger.warn('DATABASE_URL is not set: cases are kept in the embedded PGlite database');
    const bus = ownBus(context, await openBusFromEnv(config, 'healer'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this healer hears nobody');

    await startHealer(context, { config, bus, store, metrics: telemetry });
  },
});
