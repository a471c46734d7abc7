import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { createTestStore, randomSchemaName, resolveTestDatabaseUrl, type TestStore } from '../src/testing.js';

// Services and test runs share one database, each in its own schema; schemas of others come and go while a store
// migrates its own. Kysely's stock introspection read the whole catalog by schema name, so a schema dropped
// meanwhile failed another store's start with 3F000 "schema does not exist" (seen on loaded CI machines).
const stores: TestStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.cleanup()));
});

it('stores open and migrate while other schemas of the same database are created and dropped', {
  timeout: 180_000,
}, async () => {
  const admin = new pg.Client({ connectionString: await resolveTestDatabaseUrl() });
  await admin.connect();
  let churning = true;
  let churned = 0;
  const churn = (async () => {
    while (churning) {
      const schema = randomSchemaName();
      await admin.query(`create schema ${schema}`);
      await admin.query(`create table ${schema}.t (id int primary key, v text)`);
      await admin.query(`drop schema ${schema} cascade`);
      churned++;
    }
  })();
  try {
    for (let round = 0; round < 4; round++) {
      stores.push(...(await Promise.all([createTestStore(), createTestStore(), createTestStore()])));
    }
  } finally {
    churning = false;
    await churn;
    await admin.end();
  }
  expect(stores).toHaveLength(12);
  expect(churned).toBeGreaterThan(0);
  for (const store of stores) {
    const { rows } = await sql<{ name: string }>`
      select tablename as name from pg_catalog.pg_tables where schemaname = current_schema()`.execute(
      store.db,
    );
    expect(rows.map((t) => t.name)).toEqual(expect.arrayContaining(['vitals', 'kysely_migration']));
  }
});
