import { eventually } from '@immune/bus/testing';
import { createRepositories } from '@immune/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Body,
  type DashboardHarness,
  jsonOf,
  OPERATOR_TOKEN,
  startDashboardHarness,
} from './harness.js';
import { vital } from './vitals.js';

/**
 * Card sparklines and the agent page's band come from the sentinel's σ history (`sigma_buckets`): a real
 * sentinel judges the vitals and writes it, the dashboard reads it through its routes.
 */
let h: DashboardHarness;
const sick = 'sigma-sick';
const quiet = 'sigma-quiet';

beforeAll(async () => {
  h = await startDashboardHarness();
  const agents = createRepositories(h.store.db).agents;
  for (const id of [sick, quiet]) await agents.register({ id, ts: Date.now(), model: 'gpt-4o-mini' });
  // One-second buckets written every 100 ms, so the band has a step per judged vital and shows up at once.
  await h.startSentinel({ SENTINEL_SIGMA_BUCKET_MS: '1000', SENTINEL_SIGMA_FLUSH_MS: '100' });
}, 60_000);
afterAll(async () => {
  await h?.close();
}, 60_000);

const get = async (path: string): Promise<Body> => {
  const response = await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const body = await jsonOf(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
};

interface Steps {
  ts: number[];
  typical: number[];
  low: number[];
  high: number[];
  threshold: number[];
  worst_sigma: number[];
}

describe('σ history in the dashboard', { timeout: 90_000 }, () => {
  it('draws the card sparkline and the band over time from what the sentinel judged', async () => {
    const start = Date.now() - 60_000;
    // 20 ordinary calls a second apart (15 warm the baseline up), then a token explosion.
    for (let i = 0; i < 20; i++) await h.bus.publishVital(vital(sick, start + i * 1_000));
    const spikeAt = start + 30_000;
    await h.bus.publishVital(vital(sick, spikeAt, 8));

    await eventually(async () => {
      const { agents } = (await get('/api/agents?window=1h')) as unknown as {
        agents: Array<{ agent_id: string; sigma: number[] }>;
      };
      const card = agents.find((a) => a.agent_id === sick)!;
      expect(card.sigma).toHaveLength(24);
      expect(Math.max(...card.sigma)).toBeGreaterThanOrEqual(5);
      expect(card.sigma.every((s) => s >= 0)).toBe(true);
      // An agent the sentinel never judged has a flat line.
      expect(agents.find((a) => a.agent_id === quiet)!.sigma.every((s) => s === 0)).toBe(true);
    }, 30_000);

    const series = (await get(`/api/agents/${sick}/series?window=1h`)) as unknown as {
      bands: { kind: string; metrics: Record<string, Steps> } | null;
      baselines: { kind: string } | null;
    };
    expect(series.bands?.kind).toBe('llm');
    const tokens = series.bands!.metrics.total_tokens!;
    // One step per judged vital (five ordinary, then the spike), oldest first, each with its own band.
    expect(tokens.ts).toHaveLength(6);
    expect(tokens.ts).toEqual([...tokens.ts].sort((a, b) => a - b));
    expect(tokens.ts.at(-1)).toBe(Math.floor(spikeAt / 1000) * 1000);
    for (let i = 0; i < tokens.ts.length; i++) {
      expect(tokens.typical[i]).toBeGreaterThan(900);
      expect(tokens.typical[i]).toBeLessThan(1200);
      expect(tokens.low[i]).toBeLessThan(tokens.typical[i]!);
      expect(tokens.high[i]).toBeGreaterThan(tokens.typical[i]!);
      expect(tokens.threshold[i]).toBe(3);
    }
    expect(Math.max(...tokens.worst_sigma.slice(0, 5))).toBeLessThan(3);
    expect(tokens.worst_sigma[5]).toBeGreaterThanOrEqual(5);
    // The band moves: the baseline learned the vitals between the steps.
    expect(new Set(tokens.typical).size).toBeGreaterThan(1);
    expect(Object.keys(series.bands!.metrics).sort()).toEqual(
      ['cost', 'input_tokens', 'latency_ms', 'output_tokens', 'tool_calls', 'total_tokens'].sort(),
    );

    const none = (await get(`/api/agents/${quiet}/series?window=1h`)) as unknown as { bands: unknown };
    expect(none.bands).toBeNull();
  });
});
