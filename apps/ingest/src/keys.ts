import { type ApiKey, ApiKeyRepository, type Db } from '@immune/store';

export interface Rotation {
  /** The new key in clear text: shown once, never stored. */
  key: string;
  apiKey: ApiKey;
  /** Keys that were active before and are revoked now (none with `keepOld`). */
  revoked: ApiKey[];
}

/**
 * Creates a new key and, unless `keepOld`, revokes every other active key in the same transaction, so there is
 * never a moment without a valid key. With `keepOld`, agents can move to the new key before the old ones are
 * revoked one by one (`revoke <id>`). Running ingest instances honour a revocation within INGEST_KEY_CACHE_MS.
 */
export async function rotateApiKeys(
  db: Db,
  options: { name?: string; keepOld?: boolean; now?: number } = {},
): Promise<Rotation> {
  const now = options.now ?? Date.now();
  return db.transaction().execute(async (trx) => {
    const repository = new ApiKeyRepository(trx);
    const before = await repository.list();
    const { key, apiKey } = await repository.create({ name: options.name ?? 'rotated', now });
    const revoked: ApiKey[] = [];
    if (options.keepOld !== true) {
      for (const old of before) if (await repository.revoke(old.id, now)) revoked.push(old);
    }
    return { key, apiKey, revoked };
  });
}
