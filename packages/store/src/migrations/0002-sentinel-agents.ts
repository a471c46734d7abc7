import type { Kysely, Migration } from 'kysely';

/**
 * The sentinel's per-agent triage state beyond the baselines (lifecycle position, suspicion evidence, the
 * dedupe and repetition rings), checkpointed in the same transaction as the `baselines` rows so the two never
 * disagree. `partition` lets an instance load only the partitions it owns.
 */
export const sentinelAgents: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('sentinel_agents')
      .ifNotExists()
      .addColumn('agent_id', 'text', (c) => c.primaryKey())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('state', 'jsonb', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('sentinel_agents_partition_idx')
      .ifNotExists()
      .on('sentinel_agents')
      .column('partition')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('sentinel_agents').ifExists().execute();
  },
};
