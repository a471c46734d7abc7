import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRepositories,
  type Repositories,
  type SigmaBucket,
  startVitalsRetention,
} from '../src/index.js';
import { createPGliteTestStore, createTestStore, type TestStore } from '../src/testing.js';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;
const WIDTH = 10_000;

const bucket = (overrides: Partial<SigmaBucket> = {}): SigmaBucket => ({
  agent_id: 'a',
  kind: 'llm',
  metric: 'latency_ms',
  bucket_start: T0,
  worst_sigma: 1.5,
  samples: 3,
  typical: 200,
  low: 120,
  high: 330,
  threshold: 3,
  last_ts: T0 + 5_000,
  ...overrides,
});

const drivers = [
  { driver: 'postgres', create: createTestStore },
  { driver: 'pglite', create: createPGliteTestStore },
] as const;

describe.each(drivers)('σ history on $driver', { timeout: 60_000 }, ({ create }) => {
  let store: TestStore;
  let repos: Repositories;

  beforeEach(async () => {
    store = await create();
    repos = createRepositories(store.db);
  }, 120_000);

  afterEach(async () => {
    await store?.cleanup();
  });

  it('merges flushes of one bucket: greatest σ, summed samples, the band of the latest vital', async () => {
    expect(await repos.sigmaBuckets.upsertMany([bucket()])).toBe(1);
    // A later flush of the same bucket, with a lower σ and a newer band.
    await repos.sigmaBuckets.upsertMany([
      bucket({ worst_sigma: 0.5, samples: 2, typical: 210, low: 130, high: 340, last_ts: T0 + 9_000 }),
    ]);
    // A flush that arrives late with an older band (another instance after a takeover) keeps the newer band.
    await repos.sigmaBuckets.upsertMany([
      bucket({
        worst_sigma: 4.25,
        samples: 1,
        typical: 1,
        low: 1,
        high: 1,
        threshold: 9,
        last_ts: T0 + 1_000,
      }),
    ]);
    const [row, ...rest] = await repos.sigmaBuckets.forAgent('a', { since: T0, until: T0 + WIDTH });
    expect(rest).toEqual([]);
    expect(row).toEqual(
      bucket({ worst_sigma: 4.25, samples: 6, typical: 210, low: 130, high: 340, last_ts: T0 + 9_000 }),
    );
  });

  it('writes a batch holding the same bucket twice in one statement', async () => {
    const written = await repos.sigmaBuckets.upsertMany([
      bucket({ worst_sigma: 2, samples: 1, last_ts: T0 + 1 }),
      bucket({ worst_sigma: 1, samples: 1, typical: 250, last_ts: T0 + 2 }),
      bucket({ metric: 'total_tokens', worst_sigma: -0.75 }),
    ]);
    expect(written).toBe(2);
    const rows = await repos.sigmaBuckets.forAgent('a', { since: T0, until: T0 + WIDTH });
    expect(rows.map((r) => [r.metric, r.worst_sigma, r.samples, r.typical])).toEqual([
      ['latency_ms', 2, 2, 250],
      ['total_tokens', -0.75, 3, 200],
    ]);
  });

  it('reads one agent by range, kind and metric', async () => {
    await repos.sigmaBuckets.upsertMany([
      ...[0, 1, 2, 3].map((i) => bucket({ bucket_start: T0 + i * WIDTH, last_ts: T0 + i * WIDTH })),
      bucket({ kind: 'tool', bucket_start: T0 + WIDTH }),
      bucket({ metric: 'cost', bucket_start: T0 + WIDTH }),
      bucket({ agent_id: 'b', bucket_start: T0 + WIDTH }),
    ]);
    const range = await repos.sigmaBuckets.forAgent('a', {
      since: T0 + WIDTH,
      until: T0 + 3 * WIDTH,
      kind: 'llm',
      metric: 'latency_ms',
    });
    expect(range.map((r) => r.bucket_start)).toEqual([T0 + WIDTH, T0 + 2 * WIDTH]);
    const all = await repos.sigmaBuckets.forAgent('a', { since: T0, until: T0 + DAY });
    expect(all.map((r) => `${r.kind}/${r.metric}`)).toEqual([
      'llm/cost',
      'llm/latency_ms',
      'llm/latency_ms',
      'llm/latency_ms',
      'llm/latency_ms',
      'tool/latency_ms',
    ]);
  });

  it("reads every agent's worst σ per bucket over its metrics and kinds in one query", async () => {
    await repos.sigmaBuckets.upsertMany([
      bucket({ worst_sigma: 1 }),
      bucket({ metric: 'total_tokens', worst_sigma: 6.5 }),
      bucket({ kind: 'tool', worst_sigma: 2 }),
      bucket({ bucket_start: T0 + WIDTH, worst_sigma: 0.25 }),
      // Two stored buckets inside one wider read bucket: the worst of both.
      bucket({ bucket_start: T0 + 2 * WIDTH, worst_sigma: 3 }),
      bucket({ bucket_start: T0 + 3 * WIDTH, worst_sigma: 3.5 }),
      bucket({ agent_id: 'b', worst_sigma: -1 }),
      // Outside the window.
      bucket({ bucket_start: T0 - WIDTH, worst_sigma: 50 }),
      bucket({ bucket_start: T0 + 4 * WIDTH, worst_sigma: 50 }),
    ]);
    const since = T0;
    const until = T0 + 4 * WIDTH;
    const read = await repos.sigmaBuckets.worstByBucket({ since, until, bucketMs: 2 * WIDTH });
    expect(read).toEqual([
      { agent_id: 'a', bucket: 0, sigma: 6.5 },
      { agent_id: 'a', bucket: 1, sigma: 3.5 },
      { agent_id: 'b', bucket: 0, sigma: -1 },
    ]);
    expect(
      await repos.sigmaBuckets.worstByBucket({ since, until, bucketMs: 2 * WIDTH, agentId: 'b' }),
    ).toEqual([{ agent_id: 'b', bucket: 0, sigma: -1 }]);
  });

  it('is pruned by the vitals retention job at the vitals retention', async () => {
    const now = T0 + 30 * DAY;
    await repos.sigmaBuckets.upsertMany([
      bucket({ bucket_start: now - 8 * DAY }),
      bucket({ bucket_start: now - 7 * DAY - WIDTH }),
      bucket({ bucket_start: now - 7 * DAY + WIDTH }),
      bucket({ bucket_start: now - WIDTH }),
    ]);
    const job = startVitalsRetention(store, { now: () => now, intervalMs: 60_000 });
    try {
      const done = await job.runOnce();
      expect(done.sigmaBucketsDeleted).toBe(2);
      const left = await repos.sigmaBuckets.forAgent('a', { since: 0, until: now + DAY });
      expect(left.map((r) => r.bucket_start)).toEqual([now - 7 * DAY + WIDTH, now - WIDTH]);
    } finally {
      job.stop();
    }
  });
});
