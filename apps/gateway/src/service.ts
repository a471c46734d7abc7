import type { Bus } from '@immune/bus';
import { createHttpServer, type MetricsRegistry, type ServiceContext } from '@immune/runtime';
import { gatewayApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { createGateway } from './gateway.js';

export interface GatewayServiceDeps {
  config: GatewayConfig;
  /** Opened (and drained at shutdown) by the caller: the gateway's own main, or single-process mode. */
  bus: Bus;
  metrics: MetricsRegistry;
}

/**
 * Wires the gateway into a running service: state from the bus, the stop-work hook, and the HTTP server. The
 * same function serves `main.ts` (one service per process) and single-process mode (every service in one).
 */
/** Resolves to the bound port (GATEWAY_PORT=0 picks a free one). */
export async function startGateway(context: ServiceContext, deps: GatewayServiceDeps): Promise<number> {
  const { config, bus, metrics } = deps;
  const logger = context.logger;
  const gateway = createGateway({ config, bus, logger, meter: metrics.meter() });
  await gateway.start();
  // After HTTP has closed and before the bus drains: buffered vitals get their last chance to leave.
  context.shutdown.onStopWork(() => gateway.close(), 'gateway');

  const server = createHttpServer({
    logger,
    readiness: context.readiness,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  await server.register(gatewayApp, { gateway, bodyLimitBytes: config.BODY_LIMIT_BYTES });
  return context.listen(server, { host: config.HOST, port: config.GATEWAY_PORT });
}
