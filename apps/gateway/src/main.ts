import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { createLogger, describeConfig, loadConfigOrExit, ownBus, runService } from '@immune/runtime';
import { GatewayEnv } from './config.js';
import { startGateway } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(GatewayEnv, { service: 'gateway' });
const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
logger.info({ config: describeConfig(GatewayEnv, config) }, 'starting gateway');

await runService({
  name: 'gateway',
  logger,
  telemetry,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
  async start(context) {
    const bus = ownBus(context, await openBusFromEnv(config, 'gateway'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this gateway shares no state');

    await startGateway(context, { config, bus, metrics: telemetry });
  },
});
