import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@immune/runtime';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { migrateToLatest } from './migrations/index.js';
import { pgliteDialect } from './pglite-dialect.js';
import { enableTimescale, ensureVitalsHypertable } from './timescale.js';
import {
  createVitalsPartitions,
  upcomingDays,
  type VitalsLayout,
  vitalsLayout,
} from './vitals-partitions.js';

export const DEFAULT_PGLITE_DATA_DIR = '.immune-data/pglite';
export const DEFAULT_VITALS_RETENTION_DAYS = 7;

export type StoreDriver = 'postgres' | 'pglite';

export interface StoreOptions {
  /** postgres://… When set, the store uses a pg connection pool; otherwise an embedded PGlite database. */
  databaseUrl?: string;
  /**
   * Put every table in this schema (created if missing) by setting the connections' search_path, so several
   * deployments or test runs can share one database. Letters, digits and underscores only.
   */
  schema?: string;
  /** PGlite only: the data folder. Default `.immune-data/pglite`, relative to the working directory. */
  dataDir?: string;
  /** PGlite only: keep the database in memory (nothing survives `close`). */
  inMemory?: boolean;
  /** pg only: the most connections the pool opens. Default 10. */
  maxConnections?: number;
  /** Bring the schema up to date while opening. Default true. */
  migrate?: boolean;
  /** How long vitals are kept: the TimescaleDB retention policy, or what `pruneVitals` should be given. */
  vitalsRetentionDays?: number;
  logger?: Logger;
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly driver: StoreDriver;
  /** True when vitals is a TimescaleDB hypertable with a retention policy (then `vitalsLayout` is 'hypertable'). */
  readonly timescale: boolean;
  /**
   * How vitals are stored: 'partitioned' (native daily partitions, the default; run `startVitalsRetention`),
   * 'hypertable' (TimescaleDB, which keeps its own retention policy), or 'plain' (only for a store opened
   * with `migrate: false` on a schema that was never migrated past 0002).
   */
  readonly vitalsLayout: VitalsLayout;
  readonly schema: string | undefined;
  readonly vitalsRetentionDays: number;
  /** Closes the pool (or PGlite). Stop writers first: queries after this fail. */
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Schema names end up inside SQL and a connection option, so only plain identifiers are accepted. */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(
      `store: schema '${schema}' must be a plain identifier (letters, digits, underscores, at most 63)`,
    );
  }
}

/**
 * Opens the database the configuration points at: PostgreSQL (TimescaleDB when present) through a pg pool
 * when `databaseUrl` is set, else an embedded PGlite database in a local folder or in memory. Migrates unless
 * told not to.
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  assertOptions(options);
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    return finishOpening(openPostgres(options.databaseUrl, options), 'postgres', options);
  }
  const pglite = await openPGlite(options);
  return finishOpening(
    new Kysely<Database>({ dialect: pgliteDialect(pglite, pgliteSchema(options)) }),
    'pglite',
    options,
  );
}

/** Opens a store on a PGlite instance the caller owns and closes: for sharing one instance between stores. */
export async function openStoreOnPGlite(
  pglite: PGlite,
  options: Omit<StoreOptions, 'databaseUrl' | 'dataDir' | 'inMemory' | 'maxConnections'> = {},
): Promise<Store> {
  assertOptions(options);
  const dialect = pgliteDialect(pglite, { ...pgliteSchema(options), closeOnDestroy: false });
  return finishOpening(new Kysely<Database>({ dialect }), 'pglite', options);
}

function assertOptions(options: StoreOptions): void {
  if (options.schema !== undefined) assertSchemaName(options.schema);
  const days = options.vitalsRetentionDays;
  if (days !== undefined && !(days > 0)) {
    throw new RangeError(`store: vitalsRetentionDays must be positive, got ${days}`);
  }
}

const pgliteSchema = (options: StoreOptions) =>
  options.schema === undefined ? {} : { schema: options.schema };

function openPostgres(databaseUrl: string, options: StoreOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // A startup parameter rather than a SET after connecting: pg has no async connect hook, and a SET racing
    // the first query would send that query to the wrong schema.
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema},public` }),
  });
  // A client losing its connection emits 'error': on the pool while it is idle, on the client itself while it
  // is checked out (pg-pool takes its own listener off then), e.g. between the statements of a transaction.
  // Unheard, either would end the process; the query in flight rejects on its own and the pool drops the client.
  pool.on('error', (error) => options.logger?.error({ err: error }, 'postgres pool: idle client error'));
  pool.on('connect', (client) => {
    client.on('error', (error) =>
      options.logger?.warn({ err: error }, 'postgres: connection lost while checked out'),
    );
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function openPGlite(options: StoreOptions): Promise<PGlite> {
  if (options.inMemory === true) return PGlite.create();
  const dataDir = options.dataDir ?? DEFAULT_PGLITE_DATA_DIR;
  await mkdir(dataDir, { recursive: true });
  return PGlite.create(dataDir);
}

async function finishOpening(
  db: Kysely<Database>,
  driver: StoreDriver,
  options: StoreOptions,
): Promise<Store> {
  const vitalsRetentionDays = options.vitalsRetentionDays ?? DEFAULT_VITALS_RETENTION_DAYS;
  try {
    if (options.schema !== undefined) {
      await sql`create schema if not exists ${sql.id(options.schema)}`.execute(db);
    }
    if (options.migrate ?? true) {
      // Before migrating: migration 0003 leaves vitals plain for the hypertable step when the extension is in.
      const extension = driver === 'postgres' && (await enableTimescale(db, options.logger));
      await migrateToLatest(db, options.schema === undefined ? {} : { schema: options.schema });
      const migrated = await vitalsLayout(db);
      if (extension && migrated !== 'partitioned') {
        await ensureVitalsHypertable(db, vitalsRetentionDays);
      } else if (extension) {
        // Partitioned before TimescaleDB arrived: create_hypertable refuses a partitioned table, and the
        // partitions already do the job, so it stays as it is.
        options.logger?.warn(
          'timescaledb is installed but vitals is natively partitioned already; it stays partitioned',
        );
      }
      // Only creating here; dropping old days is the retention job's decision (see retention.ts).
      if (migrated === 'partitioned') await createVitalsPartitions(db, upcomingDays(Date.now()));
    }
    const layout = await vitalsLayout(db);
    const timescale = layout === 'hypertable';
    options.logger?.info(
      { driver, schema: options.schema, timescale, vitalsLayout: layout, vitalsRetentionDays },
      `store open: vitals is ${layout === 'hypertable' ? 'a hypertable' : layout === 'partitioned' ? 'partitioned by day' : 'a plain table'}`,
    );
    return {
      db,
      driver,
      timescale,
      vitalsLayout: layout,
      schema: options.schema,
      vitalsRetentionDays,
      close: () => db.destroy(),
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}
