import type { Logger } from '@immune/runtime';
import { type Kysely, sql } from 'kysely';
import type { Db } from './database.js';

/**
 * Turns TimescaleDB on when the server offers it. The extension can be listed yet unusable (not in
 * shared_preload_libraries, or the role may not create extensions); that is a deployment choice, not an
 * error, so the store falls back to a plain table and says so in the log.
 */
export async function enableTimescale(db: Db, logger?: Logger): Promise<boolean> {
  const available = await sql<{ installed: boolean }>`
    select installed_version is not null as installed
    from pg_available_extensions where name = 'timescaledb'`.execute(db);
  const row = available.rows[0];
  if (row === undefined) return false;
  if (row.installed) return true;
  try {
    // Pinned to public: created from a store whose search_path starts with its own schema, the extension
    // would otherwise land in that schema and vanish with it.
    await sql`create extension if not exists timescaledb schema public`.execute(db);
    return true;
  } catch (error) {
    logger?.warn(
      { err: error },
      'timescaledb is available but could not be enabled; vitals stay a plain table with periodic pruning',
    );
    return false;
  }
}

/** The schema the extension's functions live in, so calls work whatever the store's search_path is. */
async function extensionSchema(db: Db): Promise<string> {
  const result = await sql<{ schema: string }>`
    select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'timescaledb'`.execute(db);
  const schema = result.rows[0]?.schema;
  if (schema === undefined) throw new Error('store: timescaledb extension is not installed');
  return schema;
}

/**
 * Makes `vitals` a hypertable (one chunk per day) and keeps a retention policy of `retentionDays`. Runs on
 * every start rather than in a migration, so a deployment that gains TimescaleDB later converts its existing
 * table (migrate_data), and a changed retention setting takes effect without a new migration.
 */
export async function ensureVitalsHypertable(db: Db, retentionDays: number): Promise<void> {
  const ts = sql.id(await extensionSchema(db));
  const vitals = sql`(quote_ident(current_schema()) || '.vitals')::regclass`;
  await sql`select ${ts}.create_hypertable(${vitals}, 'ts',
    chunk_time_interval => interval '1 day', if_not_exists => true, migrate_data => true,
    create_default_indexes => false)`.execute(db);

  const wanted = `${retentionDays} days`;
  // Compared as intervals: TimescaleDB prints the stored value its own way ("1 day", "12:00:00").
  const current = await sql<{ same: boolean }>`
    select (config ->> 'drop_after')::interval = ${wanted}::interval as same
    from timescaledb_information.jobs
    where proc_name = 'policy_retention' and hypertable_schema = current_schema()
      and hypertable_name = 'vitals'`.execute(db);
  const existing = current.rows[0];
  if (existing?.same === true) return;
  if (existing !== undefined) {
    await sql`select ${ts}.remove_retention_policy(${vitals}, if_exists => true)`.execute(db);
  }
  await sql`select ${ts}.add_retention_policy(${vitals}, drop_after => ${wanted}::interval,
    if_not_exists => true)`.execute(db);
}

/** Whether `vitals` in the current schema already is a hypertable: for stores opened without migrating. */
export async function isVitalsHypertable<DB>(db: Kysely<DB>): Promise<boolean> {
  const installed = await sql<{ one: number }>`
    select 1 as one from pg_extension where extname = 'timescaledb'`.execute(db);
  if (installed.rows.length === 0) return false;
  const found = await sql<{ one: number }>`
    select 1 as one from timescaledb_information.hypertables
    where hypertable_schema = current_schema() and hypertable_name = 'vitals'`.execute(db);
  return found.rows.length > 0;
}
