import { BusEnv } from '@immune/bus';
import { PricingEnv } from '@immune/core';
import { type Config, Secret, serviceEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

/** Everything ingest reads from its environment. */
export const IngestEnv = Type.Object({
  ...serviceEnv('INGEST_PORT', 4100),
  ...BusEnv,
  ...StoreEnv,
  /** Prices OTLP spans that carry no cost of their own, with the same table as the gateway. */
  ...PricingEnv,
  /**
   * An API key to accept, stored (hashed) at start if it is not stored yet. Unset and no key stored: ingest
   * creates one at first start and prints it once.
   */
  INGEST_API_KEY: Type.Optional(Secret(Type.String({ minLength: 16 }))),
  /** Most vitals in one request. */
  INGEST_MAX_BATCH: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  /** Largest OTLP export (`POST /v1/traces`) accepted, bytes after decompression; larger ones get 413. */
  INGEST_OTLP_MAX_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 256 * 1024 * 1024,
    default: 8 * 1024 * 1024,
  }),
  /** How far a vital's `ts` may lie ahead of this server's clock (agents' clocks drift), ms. */
  INGEST_MAX_FUTURE_MS: Type.Integer({ minimum: 0, default: 300_000 }),
  /** How long a verified key is trusted without asking PostgreSQL again (so revocation takes this long), ms. */
  INGEST_KEY_CACHE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
  /** Run the recorder (bus -> PostgreSQL) in this process. Turn off to scale HTTP and recording apart. */
  INGEST_RECORDER: Type.Boolean({ default: true }),
  /** Durable consumer name of the recorder; every replica with the same name shares the work. */
  INGEST_RECORDER_DURABLE: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'recorder' }),
  /** Vitals per insert statement. */
  INGEST_RECORDER_BATCH: Type.Integer({ minimum: 1, maximum: 50_000, default: 2000 }),
  /** Longest wait of a vital before its batch is written anyway, ms. */
  INGEST_RECORDER_FLUSH_MS: Type.Integer({ minimum: 1, maximum: 60_000, default: 200 }),
  /** Batches written at once, each on its own connection. */
  INGEST_RECORDER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 4 }),
  /** Vitals delivered and not yet committed before a partition's consumer stops pulling; 0 = derived. */
  INGEST_RECORDER_MAX_ACK_PENDING: Type.Integer({ minimum: 0, default: 0 }),
  /** How long the broker waits for an ack before redelivering, ms; longer than the slowest batch. */
  INGEST_RECORDER_ACK_WAIT_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** Retention of vitals in PostgreSQL, days (a TimescaleDB policy, or the hourly prune of a plain table). */
  VITALS_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }),
});
export type IngestConfig = Config<typeof IngestEnv>;
