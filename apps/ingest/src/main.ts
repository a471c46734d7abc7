import './telemetry.js';

import { openBusFromEnv } from '@immune/bus';
import { loadConfigOrExit, ownBus, ownStore, runMain } from '@immune/runtime';
import { openStoreFromEnv } from '@immune/store';
import { IngestEnv } from './config.js';
import { startIngest } from './service.js';
import { telemetry } from './telemetry.js';

const config = loadConfigOrExit(IngestEnv, { service: 'ingest' });

await runMain({
  name: 'ingest',
  schema: IngestEnv,
  config,
  telemetry,
  async start(context) {
    const { logger } = context;
    const store = ownStore(
      context,
      await openStoreFromEnv(config, {
        vitalsRetentionDays: config.VITALS_RETENTION_DAYS,
        // The recorder's writer uses up to its concurrency in connections; the API and probes need a few more.
        maxConnections: config.INGEST_RECORDER_CONCURRENCY + 4,
        logger,
      }),
    );
    if (!config.DATABASE_URL)
      logger.warn('DATABASE_URL is not set: vitals are recorded in the embedded PGlite database');
    const bus = ownBus(context, await openBusFromEnv(config, 'ingest'));
    if (!config.NATS_URL)
      logger.warn('NATS_URL is not set: using the embedded bus, so only this process sees these vitals');

    await startIngest(context, { config, bus, store, metrics: telemetry });
  },
});
