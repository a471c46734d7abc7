import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  sql,
} from 'kysely';
import { initialSchema } from './0001-initial-schema.js';
import { sentinelAgents } from './0002-sentinel-agents.js';
import { partitionVitals } from './0003-partition-vitals.js';
import { sigmaBuckets } from './0004-sigma-buckets.js';
import { withSchemaScopedIntrospection } from './schema-scoped-introspector.js';

/**
 * The migrations, in code rather than in files read at runtime, so a bundled or compiled service carries its
 * schema with it. Names sort in the order they must run; never rename or edit one that has shipped: add a new
 * one instead.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial-schema': initialSchema,
  '0002-sentinel-agents': sentinelAgents,
  '0003-partition-vitals': partitionVitals,
  '0004-sigma-buckets': sigmaBuckets,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly migration: string | undefined,
    options: { cause: unknown },
  ) {
    super(`store: migration ${migration ?? '(unknown)'} failed: ${String(options.cause)}`, options);
  }
}

/**
 * Brings the schema up to date. Safe to call from every service at start-up: kysely takes a lock row, so
 * concurrent callers run the migrations once, and a schema already at the latest version is left alone.
 * `schema` puts kysely's own bookkeeping tables next to the data tables instead of in `public`.
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  options: { schema?: string } = {},
): Promise<MigrationResultSet> {
  // Always name the schema: without one, kysely looks for its lock table in every schema of the database, so a
  // search_path set in DATABASE_URL plus another schema holding those tables made it skip creating its own.
  const schema =
    options.schema ??
    (await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)).rows[0]?.schema ??
    undefined;
  const migrator = new Migrator({
    db: schema === undefined ? db : withSchemaScopedIntrospection(db, schema),
    provider: migrationProvider,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(failed, { cause: result.error });
  }
  return result;
}
