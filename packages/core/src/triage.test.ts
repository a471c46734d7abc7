import { beforeEach, describe, expect, it } from 'vitest';
import { AgentTriage } from './triage.js';
import { triageConfig } from './triage-config.js';
import type { TriageDecision } from './triage-decision.js';
import { triageView } from './triage-view.js';
import type { Vital } from './vital.js';

/** A deterministic fleet: each agent's normal is ~1000 tokens and ~800 ms with a little noise. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Noise for tests that do not pass a generator of their own: seeded afresh before each test, so every test sees
// the same numbers on every run, whichever tests run before it.
let noise = rng(0x5eed);
beforeEach(() => {
  noise = rng(0x5eed);
});

let counter = 0;
function vital(agent: string, ts: number, over: Partial<Vital> = {}, random = noise): Vital {
  const input = Math.round(700 + random() * 40);
  const output = Math.round(300 + random() * 20);
  return {
    id: `v${++counter}`,
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

const spike = (factor: number): Partial<Vital> => ({
  input_tokens: 720 * factor,
  output_tokens: 310 * factor,
  total_tokens: 1030 * factor,
  cost: 1030 * factor * 1e-6,
});

/** Feeds `n` normal vitals a second apart from `t0`; returns the time after the last. */
function warm(triage: AgentTriage, agent: string, t0: number, n = 20, random = noise): number {
  let t = t0;
  for (let i = 0; i < n; i++) {
    triage.observe(vital(agent, t, {}, random));
    t += 1_000;
  }
  return t;
}

const transitions = (decisions: readonly TriageDecision[]) =>
  decisions.flatMap((d) => (d.kind === 'transition' ? [`${d.transition.from}->${d.transition.to}`] : []));

describe('AgentTriage: one agent', () => {
  it('leaves INITIALIZING once its baseline is warm', () => {
    const triage = new AgentTriage(triageConfig());
    const all: TriageDecision[] = [];
    for (let i = 0; i < 15; i++) all.push(...triage.observe(vital('a', i * 1000)));
    expect(transitions(all)).toEqual(['INITIALIZING->HEALTHY']);
    expect(triage.lifecycleOf('a')?.state).toBe('HEALTHY');
  });

  it('suspects, waits out the fleet hold, confirms, drains, then quarantines', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 3_000 }));
    let t = warm(triage, 'a', 0);
    const seen: TriageDecision[] = [];
    // ~5.4σ each on the log scale (×1.7 against a 10 % floor), ~4.2σ-equivalent on a 20-vital baseline's
    // Student-t tail: anomalous but not severe, and three of them in a row are sustained evidence.
    for (let i = 0; i < 3; i++, t += 500) seen.push(...triage.observe(vital('a', t, spike(1.5))));
    expect(transitions(seen)).toEqual(['HEALTHY->SUSPECTED']);
    const due = triage.nextDue()!;
    expect(due).toBe(seen.find((d) => d.kind === 'transition')!.transition.ts + 3_000);

    const confirmed = triage.tick(due);
    expect(transitions(confirmed)).toEqual(['SUSPECTED->DRAINING']);
    const infection = confirmed.find((d) => d.kind === 'infection');
    expect(infection?.kind === 'infection' && infection.report.anomalies.map((a) => a.type)).toContain(
      'token_spike',
    );
    if (infection?.kind !== 'infection') throw new Error('no infection');
    expect(infection.report.recent_vitals).toHaveLength(5);
    expect(infection.report.recent_vitals.at(-1)!.ts).toBe(t - 500);
    expect(infection.report.max_deviation).toBeGreaterThanOrEqual(3);
    expect(confirmed.find((d) => d.kind === 'quarantine')).toMatchObject({
      order: { agent_id: 'a', state: 'DRAINING', infection_id: infection.report.id },
    });

    const drained = triage.tick(triage.nextDue()!);
    expect(transitions(drained)).toEqual(['DRAINING->QUARANTINED']);
    expect(drained.find((d) => d.kind === 'quarantine')).toMatchObject({ order: { state: 'QUARANTINED' } });
    expect(triage.nextDue()).toBeUndefined();
  });

  it('confirms on the vital itself when the evidence arrives after the hold', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 1_000 }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(1.5)));
    triage.observe(vital('a', advance(1_500), spike(1.5)));
    const third = triage.observe(vital('a', advance(100), spike(1.5)));
    expect(transitions(third)).toEqual(['SUSPECTED->DRAINING']);
  });

  it('takes a corroborated severe anomaly to DRAINING after the hold, or at once without one', () => {
    const held = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
    const t = warm(held, 'a', 0);
    expect(transitions(held.observe(vital('a', t, spike(10))))).toEqual(['HEALTHY->SUSPECTED']);
    held.observe(vital('a', t + 500, spike(10)));
    const out = held.tick(t + 2_000);
    expect(out.find((d) => d.kind === 'transition')).toMatchObject({
      transition: { trigger: 'severe_anomaly', to: 'DRAINING' },
    });

    const direct = new AgentTriage(triageConfig({ fleetHoldMs: 0 }));
    const t2 = warm(direct, 'a', 0);
    expect(transitions(direct.observe(vital('a', t2, spike(10))))).toEqual(['HEALTHY->SUSPECTED']);
    const now = direct.observe(vital('a', t2 + 500, spike(10)));
    expect(transitions(now)).toEqual(['SUSPECTED->DRAINING']);
    expect(now.map((d) => d.kind)).toEqual(['anomalies', 'transition', 'infection', 'quarantine']);
  });

  it('never escalates on one vital alone, however far out', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0 }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    expect(transitions(triage.observe(vital('a', t, spike(100))))).toEqual(['HEALTHY->SUSPECTED']);
    for (let i = 0; i < 5; i++) triage.observe(vital('a', advance(1_000)));
    expect(transitions(triage.tick(t + 30_000))).toEqual(['SUSPECTED->HEALTHY']);
  });

  it('releases a drained agent when what got it drained turns out to be fleet-wide', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0, lifecycle: { drainTimeoutMs: 5_000 } }));
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    let t = 0;
    for (let round = 0; round < 20; round++, t += 1_000) for (const a of agents) triage.observe(vital(a, t));
    const slow = { latency_ms: 6_000 };
    triage.observe(vital('agent-0', t, slow));
    triage.observe(vital('agent-0', t + 100, slow));
    expect(triage.lifecycleOf('agent-0')?.state).toBe('DRAINING');
    // The rest of the fleet follows within the drain.
    for (const a of agents.slice(1, 6)) triage.observe(vital(a, t + 1_000, slow));
    const out = triage.tick(t + 5_100);
    expect(transitions(out)).toEqual(['DRAINING->HEALTHY']);
    expect(out.find((d) => d.kind === 'release')).toMatchObject({ agent_id: 'agent-0' });
    expect(out.some((d) => d.kind === 'fleet')).toBe(true);
  });

  it('clears a suspicion that is not confirmed within the window', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 1_000 }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(1.42)));
    for (let i = 0; i < 5; i++) triage.observe(vital('a', advance(1_000)));
    expect(triage.lifecycleOf('a')?.state).toBe('SUSPECTED');
    const cleared = triage.tick(t + 30_000);
    expect(transitions(cleared)).toEqual(['SUSPECTED->HEALTHY']);
  });

  it('does not count a redelivered vital twice', () => {
    const triage = new AgentTriage(triageConfig());
    const t = warm(triage, 'a', 0);
    const v = vital('a', t);
    triage.observe(v);
    const samples = triage.detectorOf('a', 'llm')!.samples;
    expect(triage.observe(v)).toEqual([{ kind: 'duplicate' }]);
    expect(triage.observe({ ...v })).toEqual([{ kind: 'duplicate' }]);
    expect(triage.detectorOf('a', 'llm')!.samples).toBe(samples);
  });

  it('skips a redelivery at or below the stream-sequence watermark however late, also after a restore', () => {
    const triage = new AgentTriage(triageConfig());
    const first = vital('a', 1_000);
    triage.observe(first, 10);
    // Far more vitals than the id ring remembers come in between.
    for (let i = 1; i <= 40; i++) triage.observe(vital('a', 1_000 + i * 1_000), 10 + i);
    const samples = triage.detectorOf('a', 'llm')!.samples;
    expect(triage.observe(first, 10)).toEqual([{ kind: 'duplicate' }]);
    expect(triage.observe(vital('a', 99_000), 50)).toEqual([{ kind: 'duplicate' }]);
    const copy = new AgentTriage(triageConfig());
    copy.restore(triage.snapshot('a')!);
    expect(copy.snapshot('a')?.stream_seq).toBe(50);
    expect(copy.observe(first, 10)).toEqual([{ kind: 'duplicate' }]);
    expect(copy.detectorOf('a', 'llm')!.samples).toBe(samples);
    expect(copy.observe(vital('a', 99_000), 51)).not.toEqual([{ kind: 'duplicate' }]);
    expect(copy.detectorOf('a', 'llm')!.samples).toBe(samples + 1);
  });

  it('catches a tool-call loop and a retry storm from repeated hashes alone', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0 }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    const loop: TriageDecision[] = [];
    for (let i = 0; i < 9; i++) {
      loop.push(
        ...triage.observe(
          vital('a', advance(200), {
            kind: 'tool',
            tool_name: 'search',
            request_hash: 'same-args',
            tool_calls: 1,
          }),
        ),
      );
    }
    const anomalies = loop.flatMap((d) => (d.kind === 'anomalies' ? d.anomalies : []));
    expect(anomalies.some((a) => a.type === 'tool_explosion' && a.metric === 'tool_calls')).toBe(true);
    expect(triage.lifecycleOf('a')?.state).toBe('DRAINING');

    const storm = new AgentTriage(triageConfig({ fleetHoldMs: 0 }));
    let s = warm(storm, 'b', 0);
    /** Moves the test clock on and returns the new time. */
    const advanceS = (ms: number) => {
      s += ms;
      return s;
    };
    const out: TriageDecision[] = [];
    // Normal-looking calls (tokens, latency): only the repeated request says something is wrong.
    for (let i = 0; i < 9; i++)
      out.push(...storm.observe(vital('b', advanceS(300), { request_hash: 'r1', retries: 1 })));
    expect(
      out.some((d) => d.kind === 'anomalies' && d.anomalies.some((a) => a.type === 'high_retry_rate')),
    ).toBe(true);
    expect(out.some((d) => d.kind === 'infection')).toBe(true);
  });

  it('restores from a snapshot and then decides exactly as the original', () => {
    const random = rng(7);
    const config = triageConfig({ fleetHoldMs: 500 });
    const original = new AgentTriage(config);
    let t = warm(original, 'a', 0, 30, random);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    for (let i = 0; i < 3; i++) original.observe(vital('a', advance(100), { request_hash: 'x' }, random));
    const snapshot = original.snapshot('a')!;
    const json = JSON.stringify(snapshot);
    // The detector of one kind is ≤ 1 KB on its own (detector.test.ts); this is it plus the lifecycle,
    // counters and repetition ring.
    expect(json.length).toBeLessThanOrEqual(1536);
    const copy = new AgentTriage(config);
    copy.restore(JSON.parse(json));

    const later: Vital[] = [];
    for (let i = 0; i < 10; i++) later.push(vital('a', advance(200), i % 3 === 0 ? spike(1.5) : {}, random));
    later.push(vital('a', advance(200), { request_hash: 'x' }, random));
    later.push(vital('a', advance(200), { request_hash: 'x' }, random));
    later.push(later[0]!);
    // Recent vitals are not checkpointed: a restored agent's report lists only the vitals seen since.
    const comparable = (decisions: readonly TriageDecision[]) =>
      decisions.map((d) =>
        d.kind === 'infection' ? { ...d, report: { ...d.report, recent_vitals: [] } } : d,
      );
    for (const v of later) expect(comparable(copy.observe(v))).toEqual(comparable(original.observe(v)));
    expect(copy.tick(t + 60_000)).toEqual(original.tick(t + 60_000));
    expect(copy.snapshot('a')).toEqual(original.snapshot('a'));
  });
});

describe('AgentTriage: the fleet', () => {
  function outage(triages: AgentTriage[], owner: (agent: string) => AgentTriage, exchangeEveryMs: number) {
    const random = rng(42);
    const agents = Array.from({ length: 50 }, (_, i) => `agent-${i}`);
    const decisions: TriageDecision[] = [];
    const exchange = (now: number) => {
      triages.forEach((triage, i) => {
        const tally = triage.fleetTally(now);
        triages.forEach((other, j) => {
          if (i !== j) other.setPeerTally(`peer-${i}`, tally);
        });
      });
    };
    let t = 0;
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    let lastExchange = 0;
    const step = (now: number) => {
      if (now - lastExchange >= exchangeEveryMs) {
        exchange(now);
        lastExchange = now;
      }
      for (const triage of triages) decisions.push(...triage.tick(now));
    };
    // Warm-up: every agent, 20 vitals.
    for (let round = 0; round < 20; round++) {
      for (const agent of agents) decisions.push(...owner(agent).observe(vital(agent, t, {}, random)));
      t += 1_000;
      step(t);
    }
    // Outage: 40 % of the agents see 5x latency and errors; agent-0 alone has its own token explosion.
    for (let round = 0; round < 10; round++) {
      for (const [i, agent] of agents.entries()) {
        const over: Partial<Vital> =
          i > 0 && i <= 20 ? { latency_ms: 4_000 + random() * 100 } : i === 0 && round > 0 ? spike(1.5) : {};
        decisions.push(...owner(agent).observe(vital(agent, t + i * 10, over, random)));
        step(t + i * 10);
      }
      t += 1_000;
      step(t);
    }
    for (let k = 0; k < 40; k++) step(advance(1_000));
    return { agents, decisions };
  }

  it('classifies a fleet-wide anomaly as external: no quarantines, one fleet verdict', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
    const { agents, decisions } = outage([triage], () => triage, 200);
    const infected = decisions.flatMap((d) => (d.kind === 'infection' ? [d.report.agent_id] : []));
    expect(infected).toEqual(['agent-0']);
    const fleet = decisions.filter((d) => d.kind === 'fleet');
    expect(fleet.length).toBeGreaterThanOrEqual(1);
    expect(fleet[0]).toMatchObject({ correlation: { anomaly_type: 'latency_spike' } });
    for (const agent of agents.slice(1)) expect(triage.lifecycleOf(agent)?.state).toBe('HEALTHY');
  });

  it('decides the same when the agents are split between two instances that share tallies', () => {
    const single = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
    const one = outage([single], () => single, 200);

    const a = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
    const b = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
    const owner = (agent: string) => (Number(agent.split('-')[1]) % 2 === 0 ? a : b);
    const two = outage([a, b], owner, 200);

    const escalated = (d: TriageDecision[]) =>
      d.flatMap((x) => (x.kind === 'quarantine' ? [`${x.order.agent_id}:${x.order.state}`] : [])).sort();
    expect(escalated(two.decisions)).toEqual(escalated(one.decisions));
    for (const agent of one.agents) {
      expect(owner(agent).lifecycleOf(agent)?.state).toBe(single.lifecycleOf(agent)?.state);
    }
    expect(two.decisions.some((d) => d.kind === 'fleet')).toBe(true);
  });

  it('without the peers, each half alone would not see the outage', () => {
    const a = new AgentTriage(triageConfig({ fleetHoldMs: 2_000, correlator: { minAgents: 12 } }));
    const b = new AgentTriage(triageConfig({ fleetHoldMs: 2_000, correlator: { minAgents: 12 } }));
    const owner = (agent: string) => (Number(agent.split('-')[1]) % 2 === 0 ? a : b);
    // Exchange never happens: each sees only 10 affected agents, under minAgents.
    const isolated = outage([a, b], owner, Number.POSITIVE_INFINITY);
    expect(isolated.decisions.filter((d) => d.kind === 'infection').length).toBeGreaterThan(1);
  });
});

describe('AgentTriage: healing and probation', () => {
  it('follows the healer through HEALING and PROBATION back to HEALTHY, releasing the quarantine', () => {
    const triage = new AgentTriage(
      triageConfig({ fleetHoldMs: 0, lifecycle: { probationMs: 5_000, drainTimeoutMs: 100 } }),
    );
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(10)));
    triage.observe(vital('a', advance(10), spike(10)));
    triage.tick(advance(100));
    expect(triage.lifecycleOf('a')?.state).toBe('QUARANTINED');
    const started = triage.apply('a', 'healing_started', advance(10));
    expect(started.ok && started.decisions.map((d) => d.kind)).toEqual(['transition', 'quarantine']);
    const healed = triage.apply('a', 'healing_succeeded', advance(10), { action: 'reset_memory' });
    expect(healed.ok && healed.decisions.map((d) => d.kind)).toEqual(['transition', 'release']);
    expect(triage.detectorOf('a', 'llm')!.adapting).toBe(true);
    const out: TriageDecision[] = [];
    for (let i = 0; i < 12; i++) out.push(...triage.observe(vital('a', advance(200))));
    out.push(...triage.tick(t + 5_000));
    expect(transitions(out)).toEqual(['PROBATION->HEALTHY']);
    expect(out.find((d) => d.kind === 'probation')).toMatchObject({ passed: true, action: 'reset_memory' });
  });

  it('relapses on an anomaly during probation', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0, lifecycle: { drainTimeoutMs: 100 } }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(10)));
    triage.observe(vital('a', advance(10), spike(10)));
    triage.tick(advance(100));
    triage.apply('a', 'healing_started', advance(10));
    triage.apply('a', 'healing_succeeded', advance(10));
    for (let i = 0; i < 40; i++) triage.observe(vital('a', advance(100)));
    const relapse = triage.observe(vital('a', advance(100), spike(10)));
    expect(transitions(relapse)).toEqual(['PROBATION->HEALING']);
    expect(relapse.find((d) => d.kind === 'probation')).toMatchObject({ passed: false });
    expect(triage.apply('a', 'released', t + 1, { reason: 'operator' }).ok).toBe(true);
    expect(triage.apply('nobody', 'released', t + 1).ok).toBe(false);
  });

  it('on probation, a lone blip of another kind neither relapses nor counts as clean; the cured problem does', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0, lifecycle: { drainTimeoutMs: 100 } }));
    let t = warm(triage, 'a', 0);
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(10)));
    triage.observe(vital('a', advance(10), spike(10)));
    triage.tick(advance(100));
    expect(triage.snapshot('a')?.infection_types).toContain('token_spike');
    triage.apply('a', 'healing_started', advance(10));
    triage.apply('a', 'healing_succeeded', advance(10));
    const blip = triage.observe(vital('a', advance(100), { latency_ms: 8_000 }));
    expect(blip.some((d) => d.kind === 'anomalies')).toBe(true);
    expect(transitions(blip)).toEqual([]);
    expect(triage.snapshot('a')?.state).toBe('PROBATION');
    expect(transitions(triage.observe(vital('a', advance(100), spike(10))))).toEqual(['PROBATION->HEALING']);
  });

  it('does not learn a relapse: the same relapse after the next cure is caught again', () => {
    const triage = new AgentTriage(triageConfig({ fleetHoldMs: 0, lifecycle: { drainTimeoutMs: 100 } }));
    let t = warm(triage, 'a', 0);
    /** Moves the test clock on and returns the new time. */
    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(10)));
    triage.observe(vital('a', advance(10), spike(10)));
    triage.tick(advance(100));
    triage.apply('a', 'healing_started', advance(10));
    const baseline = triage.detectorOf('a', 'llm')!.baseline('total_tokens');
    for (const action of ['reset_memory', 'restart', 'cap_max_tokens']) {
      // Fast adaptation after each cure, yet the relapsing vital never becomes part of the baseline.
      expect(triage.apply('a', 'healing_succeeded', advance(10), { action }).ok).toBe(true);
      const relapse = triage.observe(vital('a', advance(100), spike(2.5)));
      expect(transitions(relapse)).toEqual(['PROBATION->HEALING']);
      expect(relapse.find((d) => d.kind === 'probation')).toMatchObject({ passed: false, action });
      expect(triage.detectorOf('a', 'llm')!.baseline('total_tokens')).toEqual(baseline);
    }
  });
});

describe('AgentTriage: the dirty list a checkpoint takes', () => {
  it('names each changed agent once, forgets what it handed out, and takes failed ones back', () => {
    const triage = new AgentTriage(triageConfig());
    for (const agent of ['a', 'b', 'a', 'c', 'a']) triage.observe(vital(agent, 1_000));
    expect(triage.takeDirty().sort()).toEqual(['a', 'b', 'c']);
    expect(triage.takeDirty()).toEqual([]);
    triage.markDirty(['b', 'never-seen']);
    triage.observe(vital('b', 2_000));
    expect(triage.takeDirty()).toEqual(['b']);
  });

  it('keeps a restored agent dirty if it was, and drops a forgotten one', () => {
    const triage = new AgentTriage(triageConfig());
    triage.observe(vital('a', 1_000));
    triage.observe(vital('b', 1_000));
    triage.restore(triage.snapshot('a')!);
    triage.forget('b');
    expect(triage.takeDirty()).toEqual(['a']);
    triage.restore(triage.snapshot('a')!);
    expect(triage.takeDirty()).toEqual([]);
  });

  it('packs the dedupe and repetition rings so a restored agent still knows both', () => {
    const triage = new AgentTriage(triageConfig());
    const seen: Vital[] = [];
    for (let i = 0; i < 6; i++) {
      const v = vital('a', 1_000 * (i + 1), { request_hash: 'same' });
      seen.push(v);
      triage.observe(v);
    }
    const copy = new AgentTriage(triageConfig());
    copy.restore(triage.snapshot('a')!);
    expect(copy.snapshot('a')).toEqual(triage.snapshot('a'));
    expect(copy.observe(seen[5]!)).toEqual([{ kind: 'duplicate' }]);
  });
});

describe('triageView: what a dashboard reads of a checkpoint', () => {
  it('gives the learned baselines in the metric units and the probation progress', () => {
    const config = triageConfig({ fleetHoldMs: 0, lifecycle: { probationMs: 5_000, drainTimeoutMs: 100 } });
    const triage = new AgentTriage(config);
    let t = warm(triage, 'a', 0);
    const healthy = triageView(triage.snapshot('a')!, config);
    expect(healthy.probation).toBeUndefined();
    const tokens = healthy.baselines!.metrics.total_tokens;
    expect(healthy.baselines!.kind).toBe('llm');
    // ~1030 tokens with a few % noise: the band is the log-scale baseline at 3σ (the 10 % floor), in tokens.
    expect(tokens.typical).toBeGreaterThan(1000);
    expect(tokens.typical).toBeLessThan(1060);
    expect(tokens.low).toBeLessThan(tokens.typical);
    expect(tokens.high).toBeGreaterThan(tokens.typical * 1.3);
    expect(tokens).toMatchObject({ k: 3, samples: 20, young: false });
    // Tool calls on the Anscombe scale: never below zero in calls.
    expect(healthy.baselines!.metrics.tool_calls.low).toBeGreaterThanOrEqual(0);

    const advance = (ms: number) => {
      t += ms;
      return t;
    };
    triage.observe(vital('a', t, spike(10)));
    triage.observe(vital('a', advance(10), spike(10)));
    triage.tick(advance(100));
    triage.apply('a', 'healing_started', advance(10));
    triage.apply('a', 'healing_succeeded', advance(10));
    const entered = t;
    triage.observe(vital('a', advance(200)));
    triage.observe(vital('a', advance(200)));
    expect(triageView(triage.snapshot('a')!, config).probation).toEqual({
      clean_vitals: 2,
      min_vitals: 10,
      ends_at: entered + 5_000,
    });
  });
});
