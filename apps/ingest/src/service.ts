import type { Bus } from '@immune/bus';
import { loadPricing } from '@immune/core';
import {
  httpLimits,
  type MetricsRegistry,
  monitorBus,
  monitorDatabase,
  type ServiceContext,
  serveApp,
} from '@immune/runtime';
import { type Store, startVitalsRetention, storeAnswers } from '@immune/store';
import { AgentDirectory } from './agent-directory.js';
import { ApiKeyVerifier, announceCreatedKey, bootstrapApiKeys } from './api-keys.js';
import { ingestApp } from './app.js';
import type { IngestConfig } from './config.js';
import { Recorder } from './recorder.js';

export interface IngestServiceDeps {
  config: IngestConfig;
  /** Opened (and drained at shutdown) by the caller: ingest's own main, or single-process mode. */
  bus: Bus;
  /** Opened (and closed at shutdown) by the caller. */
  store: Store;
  metrics: MetricsRegistry;
}

export interface RunningIngest {
  /** The bound port (INGEST_PORT=0 picks a free one). */
  port: number;
  /** Undefined when INGEST_RECORDER is off. */
  recorder: Recorder | undefined;
}

/**
 * Wires ingest into a running service: API keys, the recorder and the HTTP API. The same function serves
 * `main.ts` (one service per process) and single-process mode (every service in one).
 */
export async function startIngest(context: ServiceContext, deps: IngestServiceDeps): Promise<RunningIngest> {
  const { config, bus, store, metrics } = deps;
  const { logger, shutdown } = context;
  const bootstrap = await bootstrapApiKeys(store.db, config.INGEST_API_KEY, logger);
  if (bootstrap.kind === 'created') {
    announceCreatedKey(bootstrap.key, (text) => process.stdout.write(text));
    logger.warn(
      { event: 'api-key-created', key_id: bootstrap.apiKey.id, key_prefix: bootstrap.apiKey.prefix },
      'no API key existed: created one and printed it once to stdout (only its hash is stored)',
    );
  } else if (bootstrap.kind === 'env') {
    logger.info(
      { key_id: bootstrap.apiKey.id, key_prefix: bootstrap.apiKey.prefix, stored: bootstrap.stored },
      'INGEST_API_KEY is accepted',
    );
  }

  // Not ready while it cannot publish: vitals posted now would only get 503s, another replica may take them.
  context.readiness.addCheck('nats', () => bus.status === 'connected');
  monitorBus(context, bus, metrics.meter());
  monitorDatabase(context, () => storeAnswers(store), metrics.meter());

  let recorder: Recorder | undefined;
  if (config.INGEST_RECORDER) {
    const retention = startVitalsRetention(store, { logger });
    const started = new Recorder({
      bus,
      db: store.db,
      logger,
      meter: metrics.meter(),
      durable: config.INGEST_RECORDER_DURABLE,
      batchSize: config.INGEST_RECORDER_BATCH,
      flushIntervalMs: config.INGEST_RECORDER_FLUSH_MS,
      concurrency: config.INGEST_RECORDER_CONCURRENCY,
      maxAckPending: config.INGEST_RECORDER_MAX_ACK_PENDING,
      ackWaitMs: config.INGEST_RECORDER_ACK_WAIT_MS,
    });
    await started.start();
    // Stop consuming and commit what was taken while the bus can still carry the acks.
    shutdown.onStopWork(async () => {
      retention.stop();
      await started.stopWork();
    }, 'recorder');
    recorder = started;
  }

  const port = await serveApp(
    context,
    ingestApp,
    {
      bus,
      keys: new ApiKeyVerifier(store.db, { cacheMs: config.INGEST_KEY_CACHE_MS }),
      agents: new AgentDirectory(store.db),
      limits: { maxBatch: config.INGEST_MAX_BATCH, maxFutureMs: config.INGEST_MAX_FUTURE_MS },
      otlp: { maxBytes: config.INGEST_OTLP_MAX_BYTES, pricing: loadPricing(config.GATEWAY_PRICING_FILE) },
      meter: metrics.meter(),
    },
    {
      metrics,
      host: config.HOST,
      port: config.INGEST_PORT,
      limits: httpLimits(config),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
    },
  );
  return { port, recorder };
}
