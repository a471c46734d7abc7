import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { createLogger, describeConfig, loadConfigOrExit, ownBus, runService } from '@immune/runtime';
import { McpProxyEnv } from './config.js';
import { startMcpProxy } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(McpProxyEnv, { service: 'mcp-proxy' });
const logger = createLogger({ service: 'mcp-proxy', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
logger.info({ config: describeConfig(McpProxyEnv, config) }, 'starting mcp-proxy');

await runService({
  name: 'mcp-proxy',
  logger,
  telemetry,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
  async start(context) {
    const bus = ownBus(context, await openBusFromEnv(config, 'mcp-proxy'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so this proxy shares no state with others');
    await startMcpProxy(context, { config, bus, metrics: telemetry });
  },
});
