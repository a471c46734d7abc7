import type { AddressInfo } from 'node:net';
import { type Bus, connectNatsBus, createEmbeddedBus, QUARANTINE_BUCKET } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import {
  createHttpServer,
  createLogger,
  createPrometheusMetrics,
  httpLimits,
  loadConfig,
  Readiness,
} from '@immune/runtime';
import { mcpProxyApp } from '../src/app.js';
import { McpProxyEnv } from '../src/config.js';
import { createMcpProxy, type McpProxy } from '../src/mcp-proxy.js';

export interface ProxyReplica {
  proxy: McpProxy;
  /** The replica's origin, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

export interface Harness {
  bus: Bus;
  replicas: ProxyReplica[];
  /** The first replica's origin. */
  url: string;
  /** Every vital the proxies published, as a bus consumer received it. */
  vitals: Vital[];
  quarantine(agentId: string, reason?: string): Promise<void>;
  release(agentId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Real MCP proxy replicas on real ports, in front of fixture MCP servers, publishing to a real bus: NATS when
 * `nats` is set (NATS_URL), else the embedded bus. All replicas share the bus, as a deployment's do.
 */
export async function startHarness(
  options: { env?: Record<string, string>; nats?: boolean; replicas?: number } = {},
): Promise<Harness> {
  const prefix = uniquePrefix('mcp');
  const natsUrl = options.nats ? await natsUrlForTests() : undefined;
  const bus = natsUrl ? await connectNatsBus({ url: natsUrl, prefix }) : createEmbeddedBus({ prefix });
  const metrics = createPrometheusMetrics({ serviceName: 'mcp-proxy-test' });
  const replicas: ProxyReplica[] = [];
  for (let i = 0; i < (options.replicas ?? 1); i++) {
    const config = loadConfig(McpProxyEnv, {
      MCP_PROXY_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
      IMMUNE_SUBJECT_PREFIX: prefix,
      ...options.env,
    });
    const logger = createLogger({ service: 'mcp-proxy-test', level: config.LOG_LEVEL, format: 'json' });
    const proxy = createMcpProxy({ config, bus, logger, meter: metrics.meter() });
    await proxy.start();
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
    await server.register(mcpProxyApp, { proxy, bodyLimitBytes: config.BODY_LIMIT_BYTES });
    await server.listen({ port: 0, host: '127.0.0.1' });
    readiness.markReady();
    const port = (server.server.address() as AddressInfo).port;
    replicas.push({
      proxy,
      url: `http://127.0.0.1:${port}`,
      async close() {
        server.server.closeAllConnections();
        await server.close();
        await proxy.close();
      },
    });
  }
  const vitals: Vital[] = [];
  const consumer = await bus.consumeVitals({
    durable: 'harness',
    handler: async (d) => void vitals.push(d.vital),
  });
  const quarantineKv = await bus.kv(QUARANTINE_BUCKET);
  return {
    bus,
    replicas,
    url: (replicas[0] as ProxyReplica).url,
    vitals,
    async quarantine(agentId, reason = 'token explosion') {
      await quarantineKv.put(agentId, {
        agent_id: agentId,
        state: 'QUARANTINED',
        reason,
        since: Date.now(),
        by: 'sentinel',
        infection_id: 'inf-42',
      });
      await waitFor(() => replicas.every((r) => r.proxy.quarantine.containmentOf(agentId) !== undefined));
    },
    async release(agentId) {
      await quarantineKv.delete(agentId);
      await waitFor(() => replicas.every((r) => r.proxy.quarantine.containmentOf(agentId) === undefined));
    },
    async close() {
      for (const replica of replicas) await replica.close();
      await consumer.stop();
      await bus.drain();
      if (natsUrl) await removeTopology(natsUrl, prefix);
      await metrics.shutdown();
    },
  };
}

/** Polls until `condition` holds (generous deadline: the machine may be loaded). */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until the harness has `count` vitals matching `filter`, then returns them. */
export async function vitalsWhere(
  harness: Harness,
  count: number,
  filter: (vital: Vital) => boolean = () => true,
): Promise<Vital[]> {
  await waitFor(() => harness.vitals.filter(filter).length >= count, 15_000, `${count} vitals`);
  return harness.vitals.filter(filter);
}
