import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/open-store.js';
import { createTestStore, randomSchemaName, resolveTestDatabaseUrl } from '../src/testing.js';

describe('a store whose schema comes from the search_path in DATABASE_URL', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('migrates its own schema while another schema of the database already holds migration tables', async () => {
    const databaseUrl = await resolveTestDatabaseUrl();
    const other = await createTestStore();
    cleanups.push(() => other.cleanup());
    const schema = randomSchemaName();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    cleanups.push(async () => {
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    });
    await admin.query(`create schema ${schema}`);
    const url = new URL(databaseUrl);
    url.searchParams.set('options', `-c search_path=${schema},public`);

    const store = await openStore({ databaseUrl: url.toString() });
    cleanups.push(() => store.close());
    const tables = await admin.query<{ table_name: string }>(
      'select table_name from information_schema.tables where table_schema = $1',
      [schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['kysely_migration', 'kysely_migration_lock', 'vitals', 'sentinel_agents']),
    );
  });
});
