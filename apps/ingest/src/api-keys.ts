import type { Logger } from '@immune/runtime';
import { type ApiKey, ApiKeyRepository, type Db, hashApiKey } from '@immune/store';
import { sql } from 'kysely';

/**
 * Checks API keys against the hashes in `api_keys`, remembering a verified key for `cacheMs` so the hot path
 * does not ask PostgreSQL on every request (a revoked key therefore keeps working for up to `cacheMs`).
 * Unknown keys are not remembered: a client guessing keys must not fill the cache.
 */
export class ApiKeyVerifier {
  readonly #repository: ApiKeyRepository;
  readonly #cacheMs: number;
  readonly #verified = new Map<string, { key: ApiKey; until: number }>();

  constructor(db: Db, options: { cacheMs: number }) {
    this.#repository = new ApiKeyRepository(db);
    this.#cacheMs = options.cacheMs;
  }

  async verify(key: string, now: number = Date.now()): Promise<ApiKey | undefined> {
    const hash = hashApiKey(key);
    const cached = this.#verified.get(hash);
    if (cached !== undefined && cached.until > now) return cached.key;
    const found = await this.#repository.verify(key, now);
    if (found === undefined) {
      this.#verified.delete(hash);
      return undefined;
    }
    if (this.#cacheMs > 0) {
      if (this.#verified.size >= 10_000) this.#verified.clear();
      this.#verified.set(hash, { key: found, until: now + this.#cacheMs });
    }
    return found;
  }
}

export type KeyBootstrap =
  | { kind: 'env'; apiKey: ApiKey; stored: boolean }
  | { kind: 'created'; apiKey: ApiKey; key: string }
  | { kind: 'existing'; keys: number };

/** Serialises bootstraps of concurrently starting replicas, so only one of them creates the first key. */
const BOOTSTRAP_LOCK = 0x1a6e57;

/**
 * Makes sure ingest can be used: stores INGEST_API_KEY (hashed) when it is set and not stored yet; otherwise,
 * when no active key exists at all, creates one. The caller shows a created key once; it is never stored.
 */
export async function bootstrapApiKeys(
  db: Db,
  envKey: string | undefined,
  logger: Logger,
): Promise<KeyBootstrap> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
    const repository = new ApiKeyRepository(trx);
    if (envKey !== undefined) {
      const hash = hashApiKey(envKey);
      const row = await trx
        .selectFrom('api_keys')
        .select(['id', 'revoked_at'])
        .where('key_hash', '=', hash)
        .executeTakeFirst();
      if (row === undefined) {
        const { apiKey } = await repository.create({ name: 'INGEST_API_KEY', key: envKey });
        return { kind: 'env', apiKey, stored: true };
      }
      if (row.revoked_at !== null) {
        logger.warn(
          { event: 'api-key-revoked' },
          'INGEST_API_KEY was revoked (rotated?): requests with it are refused; set the new key or unset it',
        );
      }
      const [apiKey] = (await repository.list({ includeRevoked: true })).filter((key) => key.id === row.id);
      return { kind: 'env', apiKey: apiKey!, stored: false };
    }
    const active = await repository.list();
    if (active.length > 0) return { kind: 'existing', keys: active.length };
    const { key, apiKey } = await repository.create({ name: 'initial' });
    return { kind: 'created', apiKey, key };
  });
}

/**
 * Shows a key created at first start. It goes to stdout as plain text, outside the JSON log, and only this
 * once: the database keeps only its hash.
 */
export function announceCreatedKey(key: string, write: (text: string) => void): void {
  write(
    [
      '',
      '  Immune ingest created its first API key. It is shown only now; store it somewhere safe:',
      '',
      `    ${key}`,
      '',
      '  Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>". Rotate it with `immune keys rotate`',
      '  (or `pnpm --filter @immune/ingest keys rotate`).',
      '',
      '',
    ].join('\n'),
  );
}
