import { ApiKeyRepository } from '@immune/store';
import { createTestStore, resolveTestDatabaseUrl, type TestStore } from '@immune/store/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryIO } from '../../../test/fixtures.js';
import { run } from '../../cli.js';

let store: TestStore;
let db: string[];
beforeEach(async () => {
  store = await createTestStore();
  db = ['--database', await resolveTestDatabaseUrl(), '--schema', store.schema!];
}, 60_000);
afterEach(async () => {
  await store?.cleanup();
});

describe('immune keys', () => {
  it('rotate prints only the new key on stdout and revokes the old ones', async () => {
    const keys = new ApiKeyRepository(store.db);
    const { key: old } = await keys.create({ name: 'initial' });
    const io = memoryIO();
    expect(await run(['keys', 'rotate', ...db], io)).toBe(0);
    const fresh = io.out().trim();
    expect(fresh).toMatch(/^imk_\S+$/);
    expect(io.err()).toContain('revoked');
    expect(await keys.verify(fresh)).toBeDefined();
    expect(await keys.verify(old)).toBeUndefined();
  });

  it('rotate --keep-old keeps the old key; revoke then removes it; list shows the state', async () => {
    const keys = new ApiKeyRepository(store.db);
    const { key: old, apiKey } = await keys.create({ name: 'initial' });
    expect(await run(['keys', 'rotate', '--keep-old', ...db], memoryIO())).toBe(0);
    expect(await keys.verify(old)).toBeDefined();
    expect(await run(['keys', 'revoke', apiKey.id, ...db], memoryIO())).toBe(0);
    expect(await keys.verify(old)).toBeUndefined();
    const list = memoryIO();
    expect(await run(['keys', 'list', '--all', ...db], list)).toBe(0);
    expect(list.out()).toMatch(new RegExp(`${apiKey.id}\\t.*initial\\trevoked`));
    expect(list.out()).toContain('\trotated\tactive');
    expect(await run(['keys', 'revoke', apiKey.id, ...db], memoryIO())).toBe(1);
  });

  it('--json: rotate gives the key with what it revoked; list never shows a hash', async () => {
    const keys = new ApiKeyRepository(store.db);
    const { apiKey } = await keys.create({ name: 'initial' });
    const rotated = memoryIO();
    expect(await run(['keys', 'rotate', '--json', ...db], rotated)).toBe(0);
    const reply = JSON.parse(rotated.out()) as { key: string; revoked: string[] };
    expect(reply.key).toMatch(/^imk_/);
    expect(reply.revoked).toEqual([apiKey.id]);
    const list = memoryIO();
    expect(await run(['keys', 'list', '--all', '--json', ...db], list)).toBe(0);
    expect(JSON.parse(list.out()).keys).toHaveLength(2);
    expect(list.out()).not.toContain('hash');
    expect(list.out()).not.toContain(reply.key);
  });

  it('refuses a missing or unknown action as a usage error', async () => {
    expect(await run(['keys'], memoryIO())).toBe(2);
    expect(await run(['keys', 'spin', ...db], memoryIO())).toBe(2);
  });
});
