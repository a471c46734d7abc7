import type { Bus } from '@immune/bus';
import { httpLimits, type MetricsRegistry, monitorBus, type ServiceContext, serveApp } from '@immune/runtime';
import { mcpProxyApp } from './app.js';
import type { McpProxyConfig } from './config.js';
import { createMcpProxy, type McpProxy } from './mcp-proxy.js';

export interface McpProxyServiceDeps {
  config: McpProxyConfig;
  /** Opened (and drained at shutdown) by the caller: the proxy's own main, or single-process mode. */
  bus: Bus;
  metrics: MetricsRegistry;
}

export interface RunningMcpProxy {
  /** The bound port (MCP_PROXY_PORT=0 picks a free one). */
  port: number;
  proxy: McpProxy;
}

/**
 * Wires the MCP proxy into a running service: quarantine and tool policy from the bus, the stop-work hook, the
 * HTTP server. The same function serves `main.ts` and single-process mode. No store: the proxy's state lives in
 * the bus's buckets.
 */
export async function startMcpProxy(
  context: ServiceContext,
  deps: McpProxyServiceDeps,
): Promise<RunningMcpProxy> {
  const { config, bus, metrics } = deps;
  const proxy = createMcpProxy({ config, bus, logger: context.logger, meter: metrics.meter() });
  if (proxy.upstreams.size === 0)
    context.logger.warn(
      'no MCP server configured (MCP_UPSTREAM_URL / MCP_UPSTREAMS): every request gets a 404',
    );
  await proxy.start();
  // After HTTP has closed and before the bus drains: buffered vitals get their last chance to leave.
  context.shutdown.onStopWork(() => proxy.close(), 'mcp-proxy');
  // No readiness check on NATS: like the gateway, the proxy fails open during an outage (vitals buffered).
  monitorBus(context, bus, metrics.meter());

  const port = await serveApp(
    context,
    mcpProxyApp,
    { proxy, bodyLimitBytes: config.BODY_LIMIT_BYTES },
    {
      metrics,
      host: config.HOST,
      port: config.MCP_PROXY_PORT,
      limits: httpLimits(config),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
  );
  return { port, proxy };
}
