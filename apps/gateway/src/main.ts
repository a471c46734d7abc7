import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, ownStore, runMain } from '@immune/runtime';
import { openStore } from '@immune/store';
import { GatewayEnv } from './config.js';
import { startGateway } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(GatewayEnv, { service: 'gateway' });

await runMain({
  name: 'gateway',
  schema: GatewayEnv,
  config,
  telemetry,
  async start(context) {
    const { logger } = context;
    // The gateway's state (quarantine, providers, routes, policies) lives in the bus's buckets; the database,
    // when given, only feeds the management API's fleet view (an embedded one would hold no fleet).
    const store =
      config.DATABASE_URL === undefined
        ? undefined
        : ownStore(
            context,
            await openStore({
              databaseUrl: config.DATABASE_URL,
              ...(config.IMMUNE_DB_SCHEMA === undefined ? {} : { schema: config.IMMUNE_DB_SCHEMA }),
              maxConnections: 2,
              logger,
            }),
          );
    const bus = ownBus(context, await openBusFromEnv(config, 'gateway'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this gateway shares no state');

    await startGateway(context, {
      config,
      bus,
      ...(store === undefined ? {} : { store }),
      metrics: telemetry,
    });
  },
});
