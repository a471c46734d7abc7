import type { Bus } from '@immune/bus';
import { httpLimits, type MetricsRegistry, monitorBus, type ServiceContext, serveApp } from '@immune/runtime';
import type { Store } from '@immune/store';
import { gatewayApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import { FleetView } from './management/fleet-view.js';

export interface GatewayServiceDeps {
  config: GatewayConfig;
  /** Opened (and drained at shutdown) by the caller: the gateway's own main, or single-process mode. */
  bus: Bus;
  /**
   * The fleet's database (opened by the caller when DATABASE_URL is set), read by the management API's fleet
   * view only: the proxy path never touches it.
   */
  store?: Store;
  metrics: MetricsRegistry;
}

export interface RunningGateway {
  /** The bound port (GATEWAY_PORT=0 picks a free one). */
  port: number;
  gateway: Gateway;
}

/**
 * Wires the gateway into a running service: state from the bus, the stop-work hook, and the HTTP app. The
 * same function serves `main.ts` (one service per process) and single-process mode (every service in one).
 * The gateway keeps no state in a database (its state lives in the bus's buckets); it may read the fleet's.
 */
export async function startGateway(
  context: ServiceContext,
  deps: GatewayServiceDeps,
): Promise<RunningGateway> {
  const { config, bus, metrics } = deps;
  const gateway = createGateway({ config, bus, logger: context.logger, meter: metrics.meter() });
  await gateway.start();
  // After HTTP has closed and before the bus drains: buffered vitals get their last chance to leave.
  context.shutdown.onStopWork(() => gateway.close(), 'gateway');
  // No readiness check on NATS: the gateway fails open (enforcement from its last known state, vitals buffered),
  // so an outage must not take it out of the load balancer. It says so instead, with what it holds.
  monitorBus(context, bus, metrics.meter(), () => ({ buffered: gateway.publisher.stats.buffered }));

  const port = await serveApp(
    context,
    gatewayApp,
    {
      gateway,
      fleet: deps.store === undefined ? undefined : new FleetView(deps.store),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
    {
      metrics,
      host: config.HOST,
      port: config.GATEWAY_PORT,
      limits: httpLimits(config),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
  );
  return { port, gateway };
}
