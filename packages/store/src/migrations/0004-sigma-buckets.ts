import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The σ history: per agent, vital kind, baseline metric and time bucket, the worst σ the sentinel judged and
 * the baseline band (in the metric's unit) as of the bucket's latest vital. Written by the sentinel in
 * batches, read by the dashboard's sparklines and bands, pruned with the vitals' retention.
 */
export const sigmaBuckets: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('sigma_buckets')
      .ifNotExists()
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('bucket_start', 'timestamptz', (c) => c.notNull())
      .addColumn('worst_sigma', 'real', (c) => c.notNull())
      .addColumn('samples', 'integer', (c) => c.notNull())
      .addColumn('typical', 'real', (c) => c.notNull())
      .addColumn('low', 'real', (c) => c.notNull())
      .addColumn('high', 'real', (c) => c.notNull())
      .addColumn('threshold', 'real', (c) => c.notNull())
      .addColumn('last_ts', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('sigma_buckets_pkey', ['agent_id', 'kind', 'metric', 'bucket_start'])
      .execute();
    // The fleet's sparklines and retention read by time across agents; one agent's history uses the key.
    await sql`create index if not exists sigma_buckets_bucket_start_idx on sigma_buckets (bucket_start)`.execute(
      db,
    );
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('sigma_buckets').ifExists().execute();
  },
};
