import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, resolveTestDatabaseUrl } from '../src/testing.js';

describe('a PostgreSQL connection lost while a transaction holds it', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fails that transaction and nothing else: no uncaught error, the next query works', async () => {
    const store = await createTestStore();
    cleanups.push(() => store.cleanup());
    const admin = new pg.Client({ connectionString: await resolveTestDatabaseUrl() });
    await admin.connect();
    cleanups.push(() => admin.end());

    const transaction = store.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      // Between two statements the client is checked out with no query in flight: the window in which a
      // dropped connection used to surface as an 'error' event nobody listened to.
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sql`select 1`.execute(trx);
    });
    await expect(transaction).rejects.toThrow();
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db);
    expect(rows).toEqual([{ one: 1 }]);
  });
});
