import type { AddressInfo } from 'node:net';
import { type Bus, connectNatsBus, createEmbeddedBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { MockUpstream } from '@immune/mock-upstream';
import {
  createHttpServer,
  createLogger,
  createPrometheusMetrics,
  httpLimits,
  loadConfig,
  Readiness,
} from '@immune/runtime';
import type { Store } from '@immune/store';
import { gatewayApp } from '../src/app.js';
import { GatewayEnv } from '../src/config.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { FleetView } from '../src/management/fleet-view.js';

export interface Harness {
  mock: MockUpstream;
  bus: Bus;
  gateway: Gateway;
  /** The gateway's origin, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every vital the gateway published, as a bus consumer received it. */
  vitals: Vital[];
  /** The gateway's Prometheus text, as `GET /metrics` serves it. */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real gateway on a real port, in front of the mock upstream, publishing to a real bus: the embedded one,
 * or NATS (NATS_URL, else testcontainers) with its own subject prefix when a test needs the real thing.
 */
export async function startHarness(
  options: {
    env?: Record<string, string>;
    /** Settings that need the mock's URL (providers in front of it). */
    providerEnv?: (mockUrl: string) => Record<string, string>;
    nats?: boolean;
    bus?: Bus;
    /** The fleet's database, for the management API's fleet view. */
    store?: Store;
  } = {},
): Promise<Harness> {
  const mock = await MockUpstream.start();
  const prefix = uniquePrefix('gw');
  const natsUrl = options.nats ? await natsUrlForTests() : undefined;
  const bus =
    options.bus ?? (natsUrl ? await connectNatsBus({ url: natsUrl, prefix }) : createEmbeddedBus({ prefix }));
  const config = loadConfig(GatewayEnv, {
    LLM_UPSTREAM_URL: `${mock.url}/v1`,
    ANTHROPIC_UPSTREAM_URL: mock.url,
    GATEWAY_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    LOG_FORMAT: 'json',
    IMMUNE_SUBJECT_PREFIX: prefix,
    ...options.providerEnv?.(mock.url),
    ...options.env,
  });
  const logger = createLogger({ service: 'gateway-test', level: config.LOG_LEVEL, format: 'json' });
  const metrics = createPrometheusMetrics({ serviceName: 'gateway-test' });
  const gateway = createGateway({
    config,
    bus,
    logger,
    meter: metrics.meter(),
    env: { ...process.env, ...options.env },
  });
  await gateway.start();
  const readiness = new Readiness();
  const limits = httpLimits(config);
  const server = createHttpServer({
    logger,
    readiness,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    maxHeaderBytes: limits.maxHeaderBytes,
    maxConnections: limits.maxConnections,
    timeouts: limits.timeouts,
  });
  await server.register(gatewayApp, {
    gateway,
    fleet: options.store === undefined ? undefined : new FleetView(options.store),
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  readiness.markReady();
  const vitals: Vital[] = [];
  const consumer = await bus.consumeVitals({
    durable: 'harness',
    handler: async (d) => void vitals.push(d.vital),
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    mock,
    bus,
    gateway,
    url: `http://127.0.0.1:${port}`,
    vitals,
    scrape: () => metrics.scrape(),
    async close() {
      // Every test awaits its own calls; a keep-alive socket that Node still counts as active (seen after a
      // client aborted a stream) must not hold the close up.
      const closing = server.close();
      server.server.closeAllConnections();
      await closing;
      await gateway.close();
      await consumer.stop();
      if (!options.bus) await bus.drain();
      if (natsUrl) await removeTopology(natsUrl, prefix);
      await metrics.shutdown();
      await mock.close();
    },
  };
}

/** Waits (generously: the machine is shared) until `condition` holds. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until `count` vitals have arrived and returns them (newest last). */
export async function vitalsFor(harness: Harness, count: number, timeoutMs = 15_000): Promise<Vital[]> {
  const deadline = Date.now() + timeoutMs;
  while (harness.vitals.length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} vitals, got ${harness.vitals.length}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return harness.vitals.slice(-count);
}
