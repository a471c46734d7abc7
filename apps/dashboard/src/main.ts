import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, ownStore, runMain } from '@immune/runtime';
import { openStoreFromEnv } from '@immune/store';
import { DashboardEnv } from './config.js';
import { startDashboard } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(DashboardEnv, { service: 'dashboard' });

await runMain({
  name: 'dashboard',
  schema: DashboardEnv,
  config,
  telemetry,
  async start(context) {
    const { logger } = context;
    const store = ownStore(context, await openStoreFromEnv(config, { logger, maxConnections: 4 }));
    if (!config.DATABASE_URL)
      logger.warn(
        'DATABASE_URL is not set: reading the embedded PGlite database, which no other process shares',
      );
    const bus = ownBus(context, await openBusFromEnv(config, 'dashboard'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this dashboard sees no other service');
    await startDashboard(context, { config, bus, store, metrics: telemetry });
  },
});
