import { describe, expect, it } from 'vitest';
import type { QuarantineOrder } from './quarantine-order.js';
import { AgentTriage } from './triage.js';
import { triageConfig } from './triage-config.js';
import type { TriageDecision } from './triage-decision.js';
import type { Vital } from './vital.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let counter = 0;
function vital(agent: string, ts: number, random: () => number, over: Partial<Vital> = {}): Vital {
  const input = Math.round(700 + random() * 40);
  const output = Math.round(300 + random() * 20);
  return {
    id: `c${++counter}`,
    agent_id: agent,
    ts,
    source: 'gateway',
    kind: 'llm',
    latency_ms: 800 + random() * 40,
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: 0,
    retries: 0,
    cost: (input + output) * 1e-6,
    success: true,
    prompt_hash: 'p1',
    ...over,
  };
}

/** An agent that suddenly asks for 4,000 output tokens per call. */
const runaway: Partial<Vital> = { output_tokens: 4_000, total_tokens: 4_720, cost: 4_720e-6 };

const softOrders = (decisions: readonly TriageDecision[]): QuarantineOrder[] =>
  decisions.flatMap((d) => (d.kind === 'quarantine' && d.order.containment === 'soft' ? [d.order] : []));

describe('AgentTriage: soft containment', () => {
  it('contains softly at the first severe corroborated vital, then quarantines after the hold', () => {
    const random = rng(7);
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 10_000 }));
    let t = 0;
    for (let i = 0; i < 30; i++, t += 200) triage.observe(vital('a', t, random));
    const before = triage.detectorOf('a', 'llm')!.baseline('output_tokens');
    expect(before.n).toBeGreaterThan(0);

    const all: TriageDecision[][] = [];
    for (let i = 0; i < 5; i++, t += 200) all.push([...triage.observe(vital('a', t, random, runaway))]);
    const first = all.findIndex((d) => softOrders(d).length > 0);
    // Within the first three runaway calls, long before the 10 s hold.
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(3);
    const order = softOrders(all[first]!)[0]!;
    expect(order).toMatchObject({ agent_id: 'a', state: 'SUSPECTED', containment: 'soft' });
    // Clamped to the agent's own baseline (~300 tokens), far below the 4,000 asked; throttled near its rate.
    expect(order.max_tokens).toBeGreaterThanOrEqual(300);
    expect(order.max_tokens).toBeLessThan(600);
    expect(order.calls_per_minute).toBeGreaterThanOrEqual(300);
    // One soft order per episode.
    expect(all.flatMap(softOrders)).toHaveLength(1);
    expect(triage.lifecycleOf('a')?.state).toBe('SUSPECTED');

    const held = triage.tick(t + 10_000);
    expect(held.map((d) => d.kind)).toEqual(['transition', 'infection', 'quarantine']);
    expect(held[2]).toMatchObject({ kind: 'quarantine', order: { state: 'DRAINING' } });
    expect((held[2] as { order: QuarantineOrder }).order.containment).toBeUndefined();
  });

  it('keeps the soft containment across a checkpoint, and ends it when the lifecycle moves on', () => {
    const random = rng(8);
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 10_000 }));
    let t = 0;
    for (let i = 0; i < 30; i++, t += 200) triage.observe(vital('a', t, random));
    for (let i = 0; i < 3; i++, t += 200) triage.observe(vital('a', t, random, runaway));
    const snapshot = triage.snapshot('a')!;
    expect(snapshot.soft_contained).toBe(true);
    const restored = new AgentTriage(triage.config);
    restored.restore(snapshot);
    expect(restored.snapshot('a')!.soft_contained).toBe(true);
    const held = restored.tick(t + 10_000);
    expect(held.find((d) => d.kind === 'quarantine')).toMatchObject({ order: { state: 'DRAINING' } });
    expect(restored.snapshot('a')!.soft_contained).toBeUndefined();
  });

  it('releases every soft containment at once when the cause turns out fleet-wide, and quarantines nobody', () => {
    const random = rng(42);
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 10_000 }));
    const agents = Array.from({ length: 30 }, (_, i) => `agent-${i}`);
    const decisions: TriageDecision[] = [];
    let t = 0;
    for (let round = 0; round < 30; round++, t += 1_000) {
      for (const [i, agent] of agents.entries()) triage.observe(vital(agent, t + i * 5, random));
    }
    // A provider outage rolls in: three agents' calls turn slow (×30) first, long enough to be contained
    // softly before the fleet picture forms; three rounds later every agent's are.
    const outage: Partial<Vital> = { latency_ms: 25_000 };
    for (let round = 0; round < 8; round++, t += 1_000) {
      for (const [i, agent] of agents.entries()) {
        const hit = i < 3 || round >= 3;
        decisions.push(...triage.observe(vital(agent, t + i * 5, random, hit ? outage : {})));
        decisions.push(...triage.tick(t + i * 5));
      }
    }
    for (let k = 0; k < 30; k++, t += 1_000) decisions.push(...triage.tick(t));

    const soft = decisions.flatMap((d) => softOrders([d]).map((o) => o.agent_id));
    const released = decisions.flatMap((d) => (d.kind === 'release' ? [d.agent_id] : []));
    const full = decisions.filter((d) => d.kind === 'quarantine' && d.order.containment !== 'soft');
    expect(full).toEqual([]);
    expect(soft.length).toBeGreaterThan(0);
    // Whoever was contained before the fleet picture formed is released, each exactly once.
    expect([...released].sort()).toEqual([...soft].sort());
    expect(decisions.some((d) => d.kind === 'fleet')).toBe(true);
    for (const agent of agents) expect(triage.lifecycleOf(agent)?.state).toBe('HEALTHY');
    // At once: every release comes before the 10 s hold of its agent is over.
    for (const d of decisions) {
      if (d.kind !== 'release') continue;
      const order = decisions.find(
        (o): o is Extract<TriageDecision, { kind: 'quarantine' }> =>
          o.kind === 'quarantine' && o.order.agent_id === d.agent_id,
      )!;
      expect(d.ts - order.order.since).toBeLessThan(10_000);
    }
  });
});
