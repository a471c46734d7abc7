import { type Kysely, sql } from 'kysely';
import { isVitalsHypertable } from './timescale.js';

/**
 * Native daily range partitions of `vitals` (the default layout when TimescaleDB is not installed).
 *
 * One partition per UTC day, named `vitals_pYYYYMMDD`, holding `[day 00:00Z, next day 00:00Z)`. There is no
 * DEFAULT partition on purpose: a row that lands in it would block creating the real partition for its day
 * later (PostgreSQL refuses a new partition whose range the default already holds rows of), so a vital with no
 * partition is an insert error that `insertVitals` answers by creating the partition and retrying.
 *
 * Partitions come from three places, cheapest first (see packages/store/README.md, "Partitions"):
 * - `openStore` creates yesterday … today + `PARTITIONS_AHEAD_DAYS` on every open;
 * - the retention job (`startVitalsRetention`, run by ingest, the service that writes vitals) does the same
 *   hourly and drops partitions wholly older than the retention;
 * - a write that still finds no partition (a late or early vital, a store nobody maintains) creates the
 *   partitions of its batch's days and retries once.
 *
 * The helpers take any `Kysely<DB>` so that migrations (which see `Kysely<unknown>`) can use them too.
 */

export const DAY_MS = 86_400_000;
/** How many days after today the maintenance creates, so the write path normally never waits on DDL. */
export const PARTITIONS_AHEAD_DAYS = 3;

const PARTITION_NAME = /^vitals_p(\d{4})(\d{2})(\d{2})$/;
/** The first instant PostgreSQL prints with a five-digit year; a partition ending there ends at infinity. */
const YEAR_10000_MS = 253_402_300_800_000;

/** The UTC day number (days since 1970-01-01) of an epoch-millisecond instant. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

export function partitionName(day: number): string {
  const iso = new Date(day * DAY_MS).toISOString();
  return `vitals_p${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

/** The day a partition name stands for, or undefined for a table that is not one of ours. */
export function partitionDay(name: string): number | undefined {
  const match = PARTITION_NAME.exec(name);
  if (match === null) return undefined;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(ms) ? undefined : dayOf(ms);
}

/** A bound as a SQL literal. Generated from a day number, never from input, so it is safe to inline in DDL. */
function bound(ms: number): string {
  return ms >= YEAR_10000_MS ? `'infinity'` : `'${new Date(ms).toISOString()}'`;
}

export type VitalsLayout = 'partitioned' | 'hypertable' | 'plain';

/** How `vitals` in the current schema is stored. */
export async function vitalsLayout<DB>(db: Kysely<DB>): Promise<VitalsLayout> {
  const result = await sql<{ relkind: string }>`
    select c.relkind::text as relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relname = 'vitals'`.execute(db);
  if (result.rows[0]?.relkind === 'p') return 'partitioned';
  return (await isVitalsHypertable(db)) ? 'hypertable' : 'plain';
}

/** The days that have a partition now, ascending. */
export async function vitalsPartitionDays<DB>(db: Kysely<DB>): Promise<number[]> {
  const result = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = (quote_ident(current_schema()) || '.vitals')::regclass`.execute(db);
  const days: number[] = [];
  for (const { name } of result.rows) {
    const day = partitionDay(name);
    if (day !== undefined) days.push(day);
  }
  return days.sort((a, b) => a - b);
}

/**
 * Creates the partitions of the given days that do not exist yet; returns the names created. The check is
 * made first without a lock (the usual case: nothing is missing, one catalog query); creating is serialised
 * per schema by a transaction-scoped advisory lock, because two services creating the same partition at
 * once would otherwise fail on the catalog's unique index despite `if not exists`.
 */
export async function createVitalsPartitions<DB>(db: Kysely<DB>, days: Iterable<number>): Promise<string[]> {
  const wanted = [...new Set(days)];
  const existing = new Set(await vitalsPartitionDays(db));
  if (wanted.every((day) => existing.has(day))) return [];
  const create = async (trx: Kysely<DB>): Promise<string[]> => {
    await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.vitals partitions'))`.execute(trx);
    const present = new Set(await vitalsPartitionDays(trx));
    const created: string[] = [];
    for (const day of wanted.sort((a, b) => a - b)) {
      if (present.has(day)) continue;
      const name = partitionName(day);
      await sql
        .raw(
          `create table if not exists ${name} partition of vitals ` +
            `for values from (${bound(day * DAY_MS)}) to (${bound((day + 1) * DAY_MS)})`,
        )
        .execute(trx);
      created.push(name);
    }
    return created;
  };
  // Inside a caller's transaction (a migration, a repository used transactionally) the lock lasts until
  // that transaction ends, which is what keeps a concurrent creator out until the new table is visible.
  return db.isTransaction ? create(db) : db.transaction().execute(create);
}

/**
 * Drops every partition whose whole day ends at or before `olderThan` (epoch ms) and returns their names.
 * Retention is thus by whole days: rows are kept between the retention and the retention plus one day, and
 * no row is ever deleted one by one (no dead tuples, no vacuum debt, no long delete).
 */
export async function dropVitalsPartitionsBefore<DB>(db: Kysely<DB>, olderThan: number): Promise<string[]> {
  const dropped: string[] = [];
  for (const day of await vitalsPartitionDays(db)) {
    if ((day + 1) * DAY_MS > olderThan) break;
    const name = partitionName(day);
    // One statement (and one short lock on the parent) per day: a backlog of many days never holds the
    // table for long.
    await sql.raw(`drop table if exists ${name}`).execute(db);
    dropped.push(name);
  }
  return dropped;
}

export interface VitalsMaintenance {
  created: string[];
  dropped: string[];
}

/**
 * What the retention job does each hour on a partitioned table: partitions from yesterday to
 * `aheadDays` after today exist, and those wholly older than `retentionDays` are gone.
 */
export async function maintainVitalsPartitions<DB>(
  db: Kysely<DB>,
  options: { now: number; retentionDays: number; aheadDays?: number },
): Promise<VitalsMaintenance> {
  const cutoff = options.now - options.retentionDays * DAY_MS;
  const days = upcomingDays(options.now, options.aheadDays).filter((day) => (day + 1) * DAY_MS > cutoff);
  const created = await createVitalsPartitions(db, days);
  const dropped = await dropVitalsPartitionsBefore(db, cutoff);
  return { created, dropped };
}

/** Yesterday (for vitals that arrive late around midnight) through `aheadDays` after today. */
export function upcomingDays(now: number, aheadDays = PARTITIONS_AHEAD_DAYS): number[] {
  const today = dayOf(now);
  return Array.from({ length: aheadDays + 2 }, (_, i) => today - 1 + i);
}

/** PostgreSQL's answer to a row whose partition does not exist ("no partition of relation … found for row"). */
export function isMissingPartitionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '23514' && typeof message === 'string' && message.includes('no partition of relation');
}
