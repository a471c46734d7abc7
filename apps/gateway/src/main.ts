import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, runMain } from '@immune/runtime';
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
    // No store: the gateway's state (quarantine, providers, routes, policies) lives in the bus's buckets.
    const bus = ownBus(context, await openBusFromEnv(config, 'gateway'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this gateway shares no state');

    await startGateway(context, { config, bus, metrics: telemetry });
  },
});
