import type { LifecycleTransition, Vital } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { fleetStream, seededRandom, vital } from '../test/fixtures.js';
import { FleetJudge, judgeConfig } from './fleet-judge.js';

/** Feeds vitals in order (timers first, as replay does) and returns every transition, timers included. */
function replay(judge: FleetJudge, vitals: readonly Vital[]): LifecycleTransition[] {
  const transitions: LifecycleTransition[] = [];
  for (const v of vitals) {
    transitions.push(...judge.advance(v.ts));
    transitions.push(...judge.observe(v).transitions);
  }
  transitions.push(...judge.finish());
  return transitions;
}

const path = (transitions: LifecycleTransition[], agent: string) =>
  transitions.filter((t) => t.agent_id === agent).map((t) => t.to);

describe('FleetJudge', () => {
  it('drains on a corroborated severe anomaly once the fleet hold is over, and quarantines when draining times out', () => {
    const judge = new FleetJudge();
    // Two vitals far out: one alone only raises a suspicion (core's severe path needs corroboration).
    const vitals = fleetStream({
      agents: ['a', 'b'],
      count: 40,
      spike: (agent, i) => (agent === 'a' && (i === 30 || i === 31) ? { latency_ms: 20_000 } : undefined),
    });
    const transitions = replay(judge, vitals);
    expect(path(transitions, 'a')).toEqual(['HEALTHY', 'SUSPECTED', 'DRAINING', 'QUARANTINED']);
    expect(path(transitions, 'b')).toEqual(['HEALTHY']);
    const [, suspected, draining, quarantined] = transitions.filter((t) => t.agent_id === 'a');
    expect(draining!.trigger).toBe('severe_anomaly');
    expect(draining!.ts - suspected!.ts).toBe(judge.config.fleetHoldMs);
    expect(quarantined!.ts - draining!.ts).toBe(judge.config.lifecycle.drainTimeoutMs);
  });

  it('confirms a mild anomaly only when it repeats within the suspect window', () => {
    // About 5σ raw, 4.3σ-equivalent on a 30-vital Student-t tail (the log-scale sd is floored at log 1.1):
    // over 3σ and under the severe 5σ, and three in a row are sustained evidence.
    const mild = { latency_ms: 1200 };
    const repeated = replay(
      new FleetJudge(),
      fleetStream({ agents: ['a'], count: 40, spike: (_, i) => (i >= 30 && i < 33 ? mild : undefined) }),
    );
    expect(path(repeated, 'a')).toEqual(['HEALTHY', 'SUSPECTED', 'DRAINING', 'QUARANTINED']);

    const once = replay(
      new FleetJudge(),
      fleetStream({ agents: ['a'], count: 80, spike: (_, i) => (i === 30 ? mild : undefined) }),
    );
    expect(path(once, 'a')).toEqual(['HEALTHY', 'SUSPECTED', 'HEALTHY']);
    expect(once.at(-1)!.reason).toBe('not confirmed within 30000 ms');
  });

  it('classifies the same anomaly across the fleet as external and quarantines none of them', () => {
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    const judge = new FleetJudge();
    const vitals = fleetStream({
      agents,
      count: 60,
      // A provider outage: every other agent gets 10× latency from the same moment on.
      spike: (agent, i) =>
        i >= 30 && i < 45 && Number(agent.split('-')[1]) % 2 === 0 ? { latency_ms: 8000 } : undefined,
    });
    const external = new Set<string>();
    const transitions: LifecycleTransition[] = [];
    for (const v of vitals) {
      transitions.push(...judge.advance(v.ts));
      const decision = judge.observe(v);
      transitions.push(...decision.transitions);
      if (decision.external.includes('latency_spike')) external.add(v.agent_id);
    }
    transitions.push(...judge.finish());
    expect(transitions.filter((t) => t.to === 'QUARANTINED')).toEqual([]);
    expect(external.size).toBeGreaterThanOrEqual(5);
    for (const agent of agents) expect(judge.state(agent)).toBe('HEALTHY');
  });

  it('catches a loop from repeated request fingerprints while every count looks normal', () => {
    const random = seededRandom(3);
    const judge = new FleetJudge();
    const vitals: Vital[] = [];
    for (let i = 0; i < 40; i++) {
      vitals.push(vital('a', 1_000 * i, random, { request_hash: i >= 30 ? 'same-call' : `call-${i}` }));
    }
    const transitions = replay(judge, vitals);
    expect(path(transitions, 'a')).toEqual(['HEALTHY', 'SUSPECTED', 'DRAINING', 'QUARANTINED']);
    expect(transitions[1]!.reason).toContain('high_retry_rate');
  });

  it('judges nothing before min-samples, and a higher threshold ignores a mild spike', () => {
    const stream = fleetStream({
      agents: ['a'],
      count: 40,
      spike: (_, i) => (i === 30 ? { latency_ms: 1120 } : undefined),
    });
    expect(path(replay(new FleetJudge(judgeConfig({ threshold: 10 })), stream), 'a')).toEqual(['HEALTHY']);
    const late = replay(new FleetJudge(judgeConfig({ minSamples: 35 })), stream);
    expect(path(late, 'a')).toEqual(['HEALTHY']);
  });

  it('reports the soft containment entry at the corroborating severe vital, not at the first', () => {
    const judge = new FleetJudge();
    const vitals = fleetStream({
      agents: ['a'],
      count: 40,
      spike: (_, i) => (i === 30 || i === 31 ? { latency_ms: 20_000 } : undefined),
    });
    const soft: number[] = [];
    for (const [i, v] of vitals.entries()) {
      judge.advance(v.ts);
      const decision = judge.observe(v);
      if (decision.softContainment) {
        soft.push(i);
        expect(decision.softContainment).toMatchObject({
          agent_id: 'a',
          containment: 'soft',
          state: 'SUSPECTED',
        });
      }
    }
    expect(soft).toEqual([31]);
  });

  it('lets an operator release a quarantined agent', () => {
    const judge = new FleetJudge();
    replay(
      judge,
      fleetStream({
        agents: ['a'],
        count: 40,
        spike: (_, i) => (i === 30 || i === 31 ? { latency_ms: 20_000 } : undefined),
      }),
    );
    expect(judge.state('a')).toBe('QUARANTINED');
    expect(judge.release('a', judge.now)?.to).toBe('HEALTHY');
    expect(judge.state('a')).toBe('HEALTHY');
  });
});
