import Type, { type Static } from 'typebox';
import { DEFAULT_PGLITE_DATA_DIR, openStore, type Store, type StoreOptions } from './open-store.js';

/**
 * The database settings of every service that keeps state, as env-schema properties: a service spreads them
 * into its own `Type.Object({...})` and hands the loaded config to `openStoreFromEnv`. Defined here only, so
 * every service reads the same variables the same way. `{ secret: true }` keeps the URL (which usually carries a
 * password) out of `@immune/runtime`'s config errors and logs.
 */
export const StoreEnv = {
  /** postgres://…; unset: an embedded PGlite database in IMMUNE_DATA_DIR. */
  DATABASE_URL: Type.Optional(Type.String({ format: 'uri', secret: true })),
  /**
   * PGlite's data folder when DATABASE_URL is unset, relative to the working directory. PGlite serves one
   * process: services started as separate processes without DATABASE_URL each need a folder of their own.
   */
  IMMUNE_DATA_DIR: Type.String({ minLength: 1, default: DEFAULT_PGLITE_DATA_DIR }),
  /** Put every table in this PostgreSQL schema (several deployments or runs can share a database). */
  IMMUNE_DB_SCHEMA: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' })),
};

const StoreEnvSchema = Type.Object(StoreEnv);
/** What `openStoreFromEnv` reads of a service's validated config. */
export type StoreConfig = Static<typeof StoreEnvSchema>;

/** What a service may add to its config's settings: pool size, retention, its logger. */
export type StoreTuning = Pick<StoreOptions, 'maxConnections' | 'vitalsRetentionDays' | 'logger'>;

/** `openStore` from a service's validated environment (`StoreEnv`): the one way a service opens its store. */
export function openStoreFromEnv(env: StoreConfig, tuning: StoreTuning = {}): Promise<Store> {
  return openStore({
    ...(env.DATABASE_URL === undefined
      ? { dataDir: env.IMMUNE_DATA_DIR }
      : { databaseUrl: env.DATABASE_URL }),
    ...(env.IMMUNE_DB_SCHEMA === undefined ? {} : { schema: env.IMMUNE_DB_SCHEMA }),
    ...tuning,
  });
}
