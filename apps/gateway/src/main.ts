import './telemetry.js';

import { openBus } from '@immune/bus';
import { createLogger, describeConfig, loadConfigOrExit, runService } from '@immune/runtime';
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
    const { shutdown, readiness } = context;
    const bus = await openBus({
      natsUrl: config.NATS_URL,
      prefix: config.IMMUNE_SUBJECT_PREFIX,
      partitions: config.IMMUNE_PARTITIONS,
      name: 'gateway',
    });
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this gateway shares no state');
    shutdown.onBusDrain(() => bus.drain(), 'bus');
    readiness.addCheck('bus', () => bus.status !== 'closed');

    await startGateway(context, { config, bus, metrics: telemetry });
  },
});
