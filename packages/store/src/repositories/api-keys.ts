import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { toDate, toMillis, toMillisOrNull } from '../conversions.js';
import type { ApiKeysTable, Db } from '../database.js';

/** A stored API key as an operator sees it: never the key, only its display prefix. */
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** Recognisable in logs and by secret scanners. */
export const API_KEY_PREFIX = 'imk_';
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** last_used_at is for "is this key still in use?", not an audit trail: one write a minute per key is plenty. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** SHA-256 hex. Keys are long random strings, so a fast unsalted hash is enough to make the table useless to a thief. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

const toApiKey = (row: Omit<Selectable<ApiKeysTable>, 'key_hash'>): ApiKey => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  created_at: toMillis(row.created_at),
  last_used_at: toMillisOrNull(row.last_used_at),
  revoked_at: toMillisOrNull(row.revoked_at),
});

const PUBLIC_COLUMNS = ['id', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at'] as const;

export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a new key and returns it in clear text, the only time it is ever available. Pass `key` to store
   * one chosen elsewhere (e.g. INGEST_API_KEY from the environment); a key already stored is refused.
   */
  async create(options: {
    name: string;
    key?: string;
    now?: number;
  }): Promise<{ key: string; apiKey: ApiKey }> {
    const key = options.key ?? generateApiKey();
    if (key.length < 16) throw new RangeError('api key: at least 16 characters');
    const row = await this.db
      .insertInto('api_keys')
      .values({
        id: randomUUID(),
        name: options.name,
        key_hash: hashApiKey(key),
        prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
        created_at: toDate(options.now ?? Date.now()),
      })
      .returning(PUBLIC_COLUMNS)
      .executeTakeFirstOrThrow();
    return { key, apiKey: toApiKey(row) };
  }

  /** The key's record when it exists and is not revoked, else undefined. Marks it used. */
  async verify(key: string, now: number = Date.now()): Promise<ApiKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('key_hash', '=', hashApiKey(key))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const lastUsed = toMillisOrNull(row.last_used_at);
    if (lastUsed === null || now - lastUsed >= LAST_USED_RESOLUTION_MS) {
      await this.db
        .updateTable('api_keys')
        .set({ last_used_at: toDate(now) })
        .where('id', '=', row.id)
        .execute();
      return toApiKey({ ...row, last_used_at: toDate(now) });
    }
    return toApiKey(row);
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<ApiKey[]> {
    let query = this.db.selectFrom('api_keys').select(PUBLIC_COLUMNS);
    if (options.includeRevoked !== true) query = query.where('revoked_at', 'is', null);
    const rows = await query.orderBy('created_at').orderBy('id').execute();
    return rows.map(toApiKey);
  }

  /** Revokes the key; false when it does not exist or was already revoked. */
  async revoke(id: string, now: number = Date.now()): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: toDate(now) })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
