import type { AddressInfo } from 'node:net';
import { type Bus, createEmbeddedBus } from '@immune/bus';
import { uniquePrefix } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import {
  createHttpServer,
  createLogger,
  createPrometheusMetrics,
  type HttpLimits,
  type HttpServer,
  Readiness,
} from '@immune/runtime';
import { ApiKeyRepository } from '@immune/store';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { AgentDirectory } from '../src/agent-directory.js';
import { ApiKeyVerifier } from '../src/api-keys.js';
import { ingestApp } from '../src/app.js';
import type { IngestLimits } from '../src/ingest-body.js';

export interface AppHarness {
  server: HttpServer;
  bus: Bus;
  store: TestStore;
  /** A valid key stored (hashed) in the test's schema. */
  key: string;
  /** The origin when `listen` was asked for. */
  url: string;
  close(): Promise<void>;
}

/**
 * The ingest API on a real PostgreSQL schema of its own, publishing to the given bus (the embedded one by
 * default). Tests drive it with `server.inject()`, or over a real port with `listen`.
 */
export async function startApp(
  options: {
    bus?: Bus;
    store?: TestStore;
    limits?: Partial<IngestLimits>;
    bodyLimitBytes?: number;
    listen?: boolean;
    keyCacheMs?: number;
    otlpMaxBytes?: number;
    /** Header, connection and timeout limits (`httpLimits(config)`); the runtime's defaults otherwise. */
    httpLimits?: HttpLimits;
  } = {},
): Promise<AppHarness> {
  const store = options.store ?? (await createTestStore());
  const bus = options.bus ?? createEmbeddedBus({ prefix: uniquePrefix('ing') });
  const { key } = await new ApiKeyRepository(store.db).create({ name: 'test' });
  const logger = createLogger({ service: 'ingest-test', level: 'silent', format: 'json' });
  const metrics = createPrometheusMetrics({ serviceName: 'ingest-test' });
  const readiness = new Readiness();
  const server = createHttpServer({
    logger,
    readiness,
    metrics,
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    ...(options.httpLimits === undefined
      ? {}
      : {
          maxHeaderBytes: options.httpLimits.maxHeaderBytes,
          maxConnections: options.httpLimits.maxConnections,
          timeouts: options.httpLimits.timeouts,
        }),
  });
  await server.register(ingestApp, {
    bus,
    keys: new ApiKeyVerifier(store.db, { cacheMs: options.keyCacheMs ?? 0 }),
    agents: new AgentDirectory(store.db),
    limits: { maxBatch: 100, maxFutureMs: 300_000, ...options.limits },
    ...(options.otlpMaxBytes === undefined ? {} : { otlp: { maxBytes: options.otlpMaxBytes } }),
    meter: metrics.meter(),
  });
  let url = '';
  if (options.listen) {
    await server.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  } else {
    await server.ready();
  }
  readiness.markReady();
  return {
    server,
    bus,
    store,
    key,
    url,
    async close() {
      await server.close();
      if (!options.bus) await bus.drain();
      await metrics.shutdown();
      if (!options.store) await store.cleanup();
    },
  };
}

let counter = 0;
/** A reported vital with every required field; ids are unique per test process. */
export function reported(agentId: string, overrides: Partial<Vital> = {}): Record<string, unknown> {
  counter++;
  return {
    id: `rv-${process.pid}-${Date.now()}-${counter}`,
    agent_id: agentId,
    kind: 'task',
    latency_ms: 120,
    input_tokens: 10,
    output_tokens: 5,
    success: true,
    ...overrides,
  };
}
