import { type Kysely, type Migration, sql } from 'kysely';
import { createVitalsPartitions } from '../vitals-partitions.js';

/**
 * `vitals` becomes a table partitioned by range of `ts`, one partition per UTC day, so retention drops whole
 * days instead of deleting rows. A database created by 0001 (the demo's PGlite folder, an existing
 * PostgreSQL) is converted: the plain table is renamed aside, the partitioned one created with the same
 * columns, key and index, a partition made for every day the old rows cover, the rows copied and the old
 * table dropped, all inside the migration's transaction (a crash leaves the old table as it was).
 *
 * The key stays `(ts, id)`: a partitioned table's unique constraints must contain the partition key, and this
 * one already did. Dedupe is therefore per (id, ts), exactly as before: a redelivered vital carries its own ts,
 * so it lands in the same partition and `ON CONFLICT (id, ts)` drops it. The same id with another ts is
 * another row, as it always was; a global unique id would need a lookup across all partitions on every
 * insert, for a case (a client reusing ids across days) the ids (UUIDs from the SDK/gateway) do not have.
 *
 * When TimescaleDB is installed (openStore enables it before migrating), the table is left alone: the
 * hypertable conversion after migrating needs a plain table (it refuses a natively partitioned one), and
 * does the same job with chunks.
 */
export const partitionVitals: Migration = {
  async up(db: Kysely<unknown>) {
    const timescale = await sql<{ one: number }>`
      select 1 as one from pg_extension where extname = 'timescaledb'`.execute(db);
    if (timescale.rows.length > 0) return;

    await sql`alter table vitals rename to vitals_unpartitioned`.execute(db);
    await sql`alter table vitals_unpartitioned rename constraint vitals_pkey to vitals_unpartitioned_pkey`.execute(
      db,
    );
    await sql`alter index vitals_agent_ts_idx rename to vitals_unpartitioned_agent_ts_idx`.execute(db);
    // LIKE copies the columns with their types, order and NOT NULLs, so `insert … select *` below lines up.
    await sql`create table vitals (like vitals_unpartitioned) partition by range (ts)`.execute(db);
    // Same key and index as 0001 (see the reasons there); on the parent they are created on every partition.
    await sql`alter table vitals add constraint vitals_pkey primary key (ts, id)`.execute(db);
    await sql`create index vitals_agent_ts_idx on vitals (agent_id, ts desc)`.execute(db);

    const days = await sql<{ day: string }>`
      select distinct floor(extract(epoch from ts) / 86400)::bigint::text as day
      from vitals_unpartitioned`.execute(db);
    await createVitalsPartitions(
      db,
      days.rows.map((row) => Number(row.day)),
    );
    await sql`insert into vitals select * from vitals_unpartitioned`.execute(db);
    await sql`drop table vitals_unpartitioned`.execute(db);
  },

  async down(db: Kysely<unknown>) {
    const layout = await sql<{ relkind: string }>`
      select c.relkind::text as relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relname = 'vitals'`.execute(db);
    if (layout.rows[0]?.relkind !== 'p') return;
    await sql`alter table vitals rename to vitals_partitioned`.execute(db);
    await sql`alter table vitals_partitioned rename constraint vitals_pkey to vitals_partitioned_pkey`.execute(
      db,
    );
    await sql`alter index vitals_agent_ts_idx rename to vitals_partitioned_agent_ts_idx`.execute(db);
    await sql`create table vitals (like vitals_partitioned)`.execute(db);
    await sql`alter table vitals add constraint vitals_pkey primary key (ts, id)`.execute(db);
    await sql`create index vitals_agent_ts_idx on vitals (agent_id, ts desc)`.execute(db);
    await sql`insert into vitals select * from vitals_partitioned`.execute(db);
    await sql`drop table vitals_partitioned`.execute(db);
  },
};
