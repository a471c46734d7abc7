import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRepositories, openStore } from '../src/index.js';
import { vital } from './fixtures.js';

// The embedded default: no DATABASE_URL, a PGlite database in a local folder that survives a restart.
describe('PGlite in a data folder', { timeout: 120_000 }, () => {
  it('creates the folder, migrates, and keeps data across close and reopen', async () => {
    const root = await mkdtemp(join(tmpdir(), 'immune-store-'));
    const dataDir = join(root, 'nested', 'pglite');
    try {
      const first = await openStore({ dataDir });
      expect(first).toMatchObject({ driver: 'pglite', timescale: false, schema: undefined });
      const stored = vital();
      await createRepositories(first.db).vitals.insertMany([stored]);
      await first.close();

      const second = await openStore({ dataDir, vitalsRetentionDays: 3 });
      try {
        expect(second.vitalsRetentionDays).toBe(3);
        expect(await createRepositories(second.db).vitals.recent(stored.agent_id)).toEqual([stored]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a retention that is not a positive number of days', async () => {
    await expect(openStore({ inMemory: true, vitalsRetentionDays: 0 })).rejects.toThrow(RangeError);
  });
});
