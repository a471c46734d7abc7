import type { PGlite } from '@electric-sql/pglite';
import type { PostgresCursor } from 'kysely';
import {
  type Dialect,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
} from 'kysely';

/**
 * A kysely dialect for PGlite, written here rather than taken from npm: kysely-pglite-dialect 1.3.1 declares
 * PGlite <= 0.4 and reports no row count for statements that touched no rows, and kysely-pglite 0.6.1 pulls
 * in a code-generation CLI. PGlite speaks PostgreSQL's protocol, so kysely's own Postgres driver works on top
 * of a pool that hands out the one PGlite session; that also gives transactions and savepoints for free.
 */
export function pgliteDialect(pglite: PGlite, options: PGliteDialectOptions = {}): Dialect {
  return new PostgresDialect({ pool: new PGlitePool(pglite, options) });
}

export interface PGliteDialectOptions {
  /** Data tables live in this schema: several stores can share one PGlite instance (tests do). */
  schema?: string;
  /** Whether destroying the Kysely instance closes PGlite. False when the instance is shared. */
  closeOnDestroy?: boolean;
}

/**
 * PGlite has a single session. A kysely transaction holds its connection across awaits, so every user of the
 * same PGlite instance (one per store sharing it) must queue for the session, not only for each query.
 */
interface Session {
  queue: Promise<void>;
  searchPath: string | undefined;
}

const sessions = new WeakMap<PGlite, Session>();

function sessionOf(pglite: PGlite): Session {
  let session = sessions.get(pglite);
  if (session === undefined) {
    session = { queue: Promise.resolve(), searchPath: undefined };
    sessions.set(pglite, session);
  }
  return session;
}

class PGlitePool implements PostgresPool {
  readonly #pglite: PGlite;
  readonly #searchPath: string;
  readonly #closeOnDestroy: boolean;

  constructor(pglite: PGlite, options: PGliteDialectOptions) {
    this.#pglite = pglite;
    this.#searchPath = options.schema === undefined ? '"$user", public' : `"${options.schema}", public`;
    this.#closeOnDestroy = options.closeOnDestroy ?? true;
  }

  async connect(): Promise<PostgresPoolClient> {
    const session = sessionOf(this.#pglite);
    let release!: () => void;
    const turn = session.queue;
    session.queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    await turn;
    try {
      if (session.searchPath !== this.#searchPath) {
        await this.#pglite.query(`set search_path to ${this.#searchPath}`);
        session.searchPath = this.#searchPath;
      }
    } catch (error) {
      release();
      throw error;
    }
    return new PGliteClient(this.#pglite, release);
  }

  async end(): Promise<void> {
    if (this.#closeOnDestroy && !this.#pglite.closed) await this.#pglite.close();
  }
}

class PGliteClient implements PostgresPoolClient {
  readonly #pglite: PGlite;
  #release: (() => void) | undefined;

  constructor(pglite: PGlite, release: () => void) {
    this.#pglite = pglite;
    this.#release = release;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // kysely only passes a cursor when the dialect was configured with one, which this dialect never is.
    if (typeof sqlOrCursor !== 'string') throw new Error('PGlite dialect: cursors are not supported');
    return this.#run<R>(sqlOrCursor, parameters ?? []);
  }

  async #run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    const result = await this.#pglite.query<R>(sql, [...parameters]);
    return {
      // kysely compares the command with INSERT/UPDATE/DELETE/MERGE to decide whether rowCount is a count of
      // affected rows, so any other command tag may pass through as it is.
      command: (result.command ?? 'SELECT') as PostgresQueryResult<R>['command'],
      rowCount: result.rowCount ?? result.affectedRows ?? 0,
      rows: result.rows,
    };
  }

  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}
