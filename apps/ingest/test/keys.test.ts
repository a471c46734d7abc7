import { createLogger } from '@immune/runtime';
import { ApiKeyRepository } from '@immune/store';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyVerifier, announceCreatedKey, bootstrapApiKeys } from '../src/api-keys.js';
import { rotateApiKeys } from '../src/keys.js';

let store: TestStore;
const logger = createLogger({ service: 'test', level: 'silent' });
beforeEach(async () => {
  store = await createTestStore();
}, 60_000);
afterEach(async () => {
  await store?.cleanup();
});

describe('API key bootstrap', () => {
  it('creates one key when none exists, and leaves existing keys alone afterwards', async () => {
    const first = await bootstrapApiKeys(store.db, undefined, logger);
    expect(first.kind).toBe('created');
    if (first.kind !== 'created') return;
    const repository = new ApiKeyRepository(store.db);
    expect(await repository.verify(first.key)).toMatchObject({ id: first.apiKey.id });
    // Only the hash is stored.
    const { key_hash } = await store.db.selectFrom('api_keys').select('key_hash').executeTakeFirstOrThrow();
    expect(key_hash).not.toContain(first.key);
    expect(await bootstrapApiKeys(store.db, undefined, logger)).toEqual({ kind: 'existing', keys: 1 });
  });

  it('two replicas starting at once create one key between them', async () => {
    const results = await Promise.all([
      bootstrapApiKeys(store.db, undefined, logger),
      bootstrapApiKeys(store.db, undefined, logger),
    ]);
    expect(results.map((r) => r.kind).sort()).toEqual(['created', 'existing']);
  });

  it('stores INGEST_API_KEY once, hashed, and creates no other key', async () => {
    const envKey = 'env-key-0123456789abcdef';
    expect(await bootstrapApiKeys(store.db, envKey, logger)).toMatchObject({ kind: 'env', stored: true });
    expect(await bootstrapApiKeys(store.db, envKey, logger)).toMatchObject({ kind: 'env', stored: false });
    const keys = await new ApiKeyRepository(store.db).list();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.name).toBe('INGEST_API_KEY');
  });

  it('prints a created key as plain text with how to use it', () => {
    let printed = '';
    announceCreatedKey('imk_example', (text) => {
      printed += text;
    });
    expect(printed).toContain('    imk_example\n');
    expect(printed).toContain('Authorization: Bearer');
  });
});

describe('key rotation', () => {
  it('creates a new key and revokes the old ones in one step; the verifier honours it after its cache', async () => {
    const repository = new ApiKeyRepository(store.db);
    const { key: old } = await repository.create({ name: 'old' });
    const verifier = new ApiKeyVerifier(store.db, { cacheMs: 1000 });
    const t0 = Date.now();
    expect(await verifier.verify(old, t0)).toBeDefined();
    const rotation = await rotateApiKeys(store.db);
    expect(rotation.revoked.map((k) => k.name)).toEqual(['old']);
    expect(await verifier.verify(rotation.key, t0)).toBeDefined();
    expect(await verifier.verify(old, t0 + 500)).toBeDefined(); // cached
    expect(await verifier.verify(old, t0 + 1500)).toBeUndefined();
  });

  it('keeps the old keys with keepOld', async () => {
    const repository = new ApiKeyRepository(store.db);
    const { key: old } = await repository.create({ name: 'old' });
    const rotation = await rotateApiKeys(store.db, { keepOld: true });
    expect(rotation.revoked).toEqual([]);
    expect(await repository.verify(old)).toBeDefined();
    expect(await repository.verify(rotation.key)).toBeDefined();
  });
});
