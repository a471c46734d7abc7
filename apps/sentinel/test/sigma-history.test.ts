import { eventually } from '@immune/bus/testing';
import { createRepositories } from '@immune/store';
import { afterEach, describe, expect, it } from 'vitest';
import { normalVital, rng, spike } from './fixtures.js';
import { type Deployment, deployment } from './harness.js';

const WIDTH = 10_000;

/** The σ history on real NATS and PostgreSQL: judged vitals become `sigma_buckets` rows. */
describe('sentinel σ history', { timeout: 60_000 }, () => {
  const open: Deployment[] = [];
  afterEach(async () => {
    for (const d of open.splice(0)) await d.cleanup();
  });

  it('writes the worst σ and the band per agent, metric and bucket, the last of them at shutdown', async () => {
    const d = await deployment('sig');
    open.push(d);
    // No timed flush inside the test: everything reaches the table through the shutdown's write.
    const running = await d.startSentinel({
      SENTINEL_SIGMA_BUCKET_MS: String(WIDTH),
      SENTINEL_SIGMA_FLUSH_MS: '600000',
    });
    const random = rng(7);
    // Aligned to a bucket so the count per bucket is known: 20 warm-up vitals a second apart, then a spike.
    const start = Math.floor((Date.now() - 60_000) / WIDTH) * WIDTH;
    const vitals = Array.from({ length: 20 }, (_, i) => normalVital('agent.sig', start + i * 1_000, random));
    const spiked = normalVital('agent.sig', start + 20_500, random, spike(8));
    for (const v of [...vitals, spiked]) await d.bus.publishVital(v);
    // `processed` also counts timed decisions (the spike's suspicion): count what the detector learned instead.
    await eventually(
      () => expect(running.sentinel.triage.detectorOf('agent.sig', 'llm')?.samples).toBe(21),
      20_000,
    );
    await running.stop();

    const repos = createRepositories(d.store.db);
    const rows = await repos.sigmaBuckets.forAgent('agent.sig', { since: start, until: start + 60_000 });
    // The first 15 vitals warm the baseline up (SENTINEL_MIN_SAMPLES): vitals 16-20 and the spike are judged.
    const tokens = rows.filter((r) => r.metric === 'total_tokens');
    expect(tokens.map((r) => [r.kind, r.bucket_start, r.samples])).toEqual([
      ['llm', start + WIDTH, 5],
      ['llm', start + 2 * WIDTH, 1],
    ]);
    const [calm, spikedBucket] = tokens as [(typeof tokens)[0], (typeof tokens)[0]];
    expect(calm.worst_sigma).toBeLessThan(3);
    expect(spikedBucket.worst_sigma).toBeGreaterThanOrEqual(5);
    expect(spikedBucket.last_ts).toBe(spiked.ts);
    // The band in tokens: about the ~1030 tokens learned, within 3 σ of the judged scale.
    expect(calm.threshold).toBe(3);
    expect(calm.typical).toBeGreaterThan(900);
    expect(calm.typical).toBeLessThan(1200);
    expect(calm.low).toBeLessThan(calm.typical);
    expect(calm.high).toBeGreaterThan(calm.typical);
    expect(new Set(rows.map((r) => r.metric))).toEqual(
      new Set(['total_tokens', 'input_tokens', 'output_tokens', 'latency_ms', 'tool_calls', 'cost']),
    );
    const fleet = await repos.sigmaBuckets.worstByBucket({
      since: start,
      until: start + 60_000,
      bucketMs: WIDTH,
    });
    expect(fleet.filter((b) => b.agent_id === 'agent.sig').map((b) => b.bucket)).toEqual([1, 2]);
    expect(fleet.find((b) => b.bucket === 2)!.sigma).toBeGreaterThanOrEqual(5);
  });

  it('writes on its timer while vitals keep coming', async () => {
    const d = await deployment('sig');
    open.push(d);
    const running = await d.startSentinel({ SENTINEL_SIGMA_FLUSH_MS: '100' });
    const random = rng(8);
    const start = Date.now() - 40_000;
    for (let i = 0; i < 18; i++)
      await d.bus.publishVital(normalVital('agent.timer', start + i * 1_000, random));
    const repos = createRepositories(d.store.db);
    await eventually(async () => {
      const rows = await repos.sigmaBuckets.forAgent('agent.timer', {
        since: start - WIDTH,
        until: Date.now(),
      });
      const judged = rows.filter((r) => r.metric === 'latency_ms').reduce((sum, r) => sum + r.samples, 0);
      expect(judged).toBe(3);
    }, 20_000);
    expect(running.sentinel.sigmaHistory.dropped).toBe(0);
  });
});
