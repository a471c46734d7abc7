import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, runMain } from '@immune/runtime';
import { McpProxyEnv } from './config.js';
import { startMcpProxy } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(McpProxyEnv, { service: 'mcp-proxy' });

await runMain({
  name: 'mcp-proxy',
  schema: McpProxyEnv,
  config,
  telemetry,
  async start(context) {
    // No store: the proxy's state (quarantine, tool policy, pending calls) lives in the bus's buckets.
    const bus = ownBus(context, await openBusFromEnv(config, 'mcp-proxy'));
    if (!config.NATS_URL)
      context.logger.warn(
        'NATS_URL is not set: using the embedded bus, so this proxy shares no state with others',
      );
    await startMcpProxy(context, { config, bus, metrics: telemetry });
  },
});
