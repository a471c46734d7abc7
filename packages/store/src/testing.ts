/**
 * Databases for tests. Every test store lives in its own freshly migrated schema, dropped by `cleanup`, so
 * tests never see each other's rows and can run in parallel against one server.
 *
 * Integration tests never skip silently: without a database they fail and say how to provide one.
 */
import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { openStore, openStoreOnPGlite, type Store, type StoreOptions } from './open-store.js';

export const DATABASE_URL_HELP =
  'Integration tests need PostgreSQL. Set DATABASE_URL, e.g. ' +
  'DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx vitest run --project store ' +
  '(on the development machines PostgreSQL 15 runs there; if it is down: ' +
  'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), ' +
  'or start a Docker engine so that testcontainers can run one.';

export class TestDatabaseUnavailableError extends Error {
  override readonly name = 'TestDatabaseUnavailableError';
  constructor(options?: { cause: unknown }) {
    super(DATABASE_URL_HELP, options);
  }
}

export interface TestStore extends Store {
  /** Drops the test's schema and closes the store. Safe to call twice. */
  cleanup(): Promise<void>;
}

export type TestStoreOptions = Pick<StoreOptions, 'logger' | 'migrate' | 'vitalsRetentionDays'>;

export interface DatabaseUrlSources {
  env?: Readonly<Record<string, string | undefined>>;
  /** Starts a throwaway PostgreSQL and returns its URL; throws when no container engine is reachable. */
  startContainer?: () => Promise<string>;
}

let container: Promise<string> | undefined;

/** DATABASE_URL, else a PostgreSQL container (one per test process), else an error saying what to do. */
export async function resolveTestDatabaseUrl(sources: DatabaseUrlSources = {}): Promise<string> {
  const env = sources.env ?? process.env;
  const fromEnv = env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  // Development machines run PostgreSQL on its standard local port with a `test` database; use it when it
  // answers (only for the real environment: tests of this function pass their own `env`).
  if (sources.env === undefined && (await portOpen('127.0.0.1', 5432))) return LOCAL_TEST_DATABASE_URL;
  const start = sources.startContainer ?? startPostgresContainer;
  try {
    if (sources.startContainer !== undefined) return await start();
    container ??= start();
    return await container;
  } catch (error) {
    if (sources.startContainer === undefined) container = undefined;
    throw new TestDatabaseUnavailableError({ cause: error });
  }
}

const LOCAL_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** testcontainers is loaded only here, so production code never pulls it in. */
async function startPostgresContainer(): Promise<string> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient();
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const image = process.env.TEST_POSTGRES_IMAGE ?? 'postgres:15-alpine';
  const started = await new PostgreSqlContainer(image).start();
  return started.getConnectionUri();
}

export function randomSchemaName(): string {
  return `immune_test_${randomBytes(6).toString('hex')}`;
}

/** A store on real PostgreSQL (see `resolveTestDatabaseUrl`) in a schema of its own. */
export async function createTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  const databaseUrl = await resolveTestDatabaseUrl();
  const schema = randomSchemaName();
  const store = await openStore({ ...options, databaseUrl, schema, maxConnections: 8 });
  return withCleanup(store, schema);
}

let sharedPGlite: Promise<PGlite> | undefined;

/**
 * A store on an in-memory PGlite, in a schema of its own. Starting PGlite takes seconds, so one instance is
 * shared by every store of the test process; schemas keep them apart as they do on PostgreSQL.
 */
export async function createPGliteTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  sharedPGlite ??= PGlite.create();
  const schema = randomSchemaName();
  const store = await openStoreOnPGlite(await sharedPGlite, { ...options, schema });
  return withCleanup(store, schema);
}

function withCleanup(store: Store, schema: string): TestStore {
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      try {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
      } finally {
        await store.close();
      }
    })();
    return cleaning;
  };
  return { ...store, cleanup };
}

export { TempPostgres } from './temp-postgres.js';
