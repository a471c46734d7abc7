import './telemetry.js';

import { openBus } from '@immune/bus';
import {
  createHttpServer,
  createLogger,
  describeConfig,
  loadConfigOrExit,
  runService,
} from '@immune/runtime';
import { gatewayApp } from './app.js';
import { GatewayEnv } from './config.js';
import { createGateway } from './gateway.js';
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
  async start({ shutdown, readiness, listen }) {
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

    const gateway = createGateway({ config, bus, logger, meter: telemetry.meter() });
    await gateway.start();
    // After HTTP has closed and before the bus drains: buffered vitals get their last chance to leave.
    shutdown.onStopWork(() => gateway.close(), 'gateway');

    const server = createHttpServer({
      logger,
      readiness,
      metrics: telemetry,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    });
    await server.register(gatewayApp, { gateway, bodyLimitBytes: config.BODY_LIMIT_BYTES });
    await listen(server, { host: config.HOST, port: config.GATEWAY_PORT });
  },
});
