import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRepositories, type Repositories } from '../src/index.js';
import { createTestStore, type TestStore } from '../src/testing.js';

/** What the healer needs beyond plain CRUD: claims that make a step run once, and "heal now" after a reject. */
describe('healer repositories on postgres', { timeout: 60_000 }, () => {
  let store: TestStore;
  let repos: Repositories;
  beforeEach(async () => {
    store = await createTestStore();
    repos = createRepositories(store.db);
  });
  afterEach(() => store.cleanup());

  it('claims a healing attempt once', async () => {
    const attempt = {
      id: 'inf-1#0',
      infection_id: 'inf-1',
      agent_id: 'a',
      diagnosis: 'infinite_loop' as const,
      action: 'reset_memory' as const,
      step: 0,
      status: 'pending' as const,
      ts: 1_000,
    };
    const claims = await Promise.all([
      repos.healingActions.claim(attempt),
      repos.healingActions.claim(attempt),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await repos.healingActions.claim({ ...attempt, status: 'failed', ts: 2_000 })).toBe(false);
    expect((await repos.healingActions.get('inf-1#0'))?.status).toBe('pending');
  });

  it('decides from other states only when told to', async () => {
    const approval = await repos.approvals.request({ infection_id: 'inf-1', agent_id: 'a', ts: 1 });
    const rejected = await repos.approvals.decide(approval.id, { status: 'rejected', by: 'op', ts: 2 });
    expect(rejected?.status).toBe('rejected');
    expect(await repos.approvals.decideMany([approval.id], { status: 'approved', by: 'op', ts: 3 })).toEqual(
      [],
    );
    const healed = await repos.approvals.decideMany(
      [approval.id],
      { status: 'approved', by: 'op', ts: 4, note: 'heal now' },
      { from: ['pending', 'rejected'] },
    );
    expect(healed).toMatchObject([{ status: 'approved', decided_by: 'op', note: 'heal now' }]);
  });
});
