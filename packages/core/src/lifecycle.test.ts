import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AgentLifecycle,
  checkTransition,
  DEFAULT_LIFECYCLE_CONFIG,
  IllegalTransitionError,
  initialLifecycle,
  isBlocked,
  LIFECYCLE_STATES,
  LIFECYCLE_TRIGGERS,
  type LifecycleState,
  lifecycleEdges,
  nextDeadline,
  TransitionGuardError,
  transition,
} from './lifecycle.js';

/** The specification, written independently of the implementation's table. */
const ALLOWED: ReadonlySet<string> = new Set([
  'INITIALIZING>HEALTHY',
  'HEALTHY>SUSPECTED',
  'HEALTHY>DRAINING',
  'SUSPECTED>HEALTHY',
  'SUSPECTED>DRAINING',
  'DRAINING>QUARANTINED',
  'DRAINING>HEALTHY',
  'QUARANTINED>HEALING',
  'QUARANTINED>EXHAUSTED',
  'QUARANTINED>HEALTHY',
  'HEALING>PROBATION',
  'HEALING>EXHAUSTED',
  'HEALING>HEALTHY',
  'PROBATION>HEALTHY',
  'PROBATION>HEALING',
  'PROBATION>DRAINING',
  'PROBATION>EXHAUSTED',
  'EXHAUSTED>HEALING',
  'EXHAUSTED>HEALTHY',
]);

describe('lifecycle', () => {
  const t0 = 1_000_000;
  const at = (state: LifecycleState, enteredAt = t0): AgentLifecycle => ({
    agent_id: 'a',
    state,
    entered_at: enteredAt,
    seq: 3,
  });

  it('walks the happy path of a cured infection and emits one event per step', () => {
    let agent = initialLifecycle('agent-1', t0);
    const steps: Array<[Parameters<typeof transition>[1], Parameters<typeof transition>[2]]> = [
      ['baseline_ready', { now: t0 + 1 }],
      ['anomaly_detected', { now: t0 + 2 }],
      ['suspicion_confirmed', { now: t0 + 3, anomaliesInWindow: 3 }],
      ['drained', { now: t0 + 4, inFlight: 0 }],
      ['healing_started', { now: t0 + 5 }],
      ['healing_succeeded', { now: t0 + 6 }],
      ['probation_passed', { now: t0 + 6 + DEFAULT_LIFECYCLE_CONFIG.probationMs, cleanVitals: 10 }],
    ];
    const events = steps.map(([trigger, ctx]) => {
      const result = transition(agent, trigger, ctx);
      agent = result.agent;
      return result.event;
    });
    expect(events.map((e) => `${e.from}>${e.to}`)).toEqual([
      'INITIALIZING>HEALTHY',
      'HEALTHY>SUSPECTED',
      'SUSPECTED>DRAINING',
      'DRAINING>QUARANTINED',
      'QUARANTINED>HEALING',
      'HEALING>PROBATION',
      'PROBATION>HEALTHY',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(agent).toMatchObject({ state: 'HEALTHY', seq: 7 });
  });

  it('refuses an illegal transition with a typed error', () => {
    expect(() => transition(at('HEALTHY'), 'healing_started', { now: t0 })).toThrow(IllegalTransitionError);
    const check = checkTransition(at('INITIALIZING'), 'drained', { now: t0 });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error).toMatchObject({ from: 'INITIALIZING', trigger: 'drained' });
  });

  it('guards confirmation by the number of anomalies and the suspect window', () => {
    const suspected = at('SUSPECTED');
    expect(() =>
      transition(suspected, 'suspicion_confirmed', { now: t0 + 10, anomaliesInWindow: 2 }),
    ).toThrow(TransitionGuardError);
    const late = t0 + DEFAULT_LIFECYCLE_CONFIG.suspectWindowMs + 1;
    expect(() => transition(suspected, 'suspicion_confirmed', { now: late, anomaliesInWindow: 5 })).toThrow(
      /window already closed/,
    );
    expect(() => transition(suspected, 'suspicion_cleared', { now: t0 + 10 })).toThrow(/still open/);
    expect(transition(suspected, 'suspicion_cleared', { now: late }).agent.state).toBe('HEALTHY');
    expect(
      transition(suspected, 'suspicion_cleared', { now: t0 + 1, reason: 'fleet.correlated' }).event.reason,
    ).toBe('fleet.correlated');
  });

  it('drains until in-flight work is done or the drain timeout passes', () => {
    const draining = at('DRAINING');
    expect(() => transition(draining, 'drained', { now: t0 + 5, inFlight: 2 })).toThrow(/in flight/);
    expect(transition(draining, 'drained', { now: t0 + 5, inFlight: 0 }).agent.state).toBe('QUARANTINED');
    const timeout = t0 + DEFAULT_LIFECYCLE_CONFIG.drainTimeoutMs;
    expect(transition(draining, 'drained', { now: timeout, inFlight: 2 }).agent.state).toBe('QUARANTINED');
  });

  it('keeps probation until both its length and enough clean vitals', () => {
    const probation = at('PROBATION');
    const over = t0 + DEFAULT_LIFECYCLE_CONFIG.probationMs;
    expect(() => transition(probation, 'probation_passed', { now: over - 1, cleanVitals: 100 })).toThrow(
      /not over/,
    );
    expect(() => transition(probation, 'probation_passed', { now: over, cleanVitals: 2 })).toThrow(
      /clean vitals/,
    );
    expect(transition(probation, 'relapse', { now: t0 + 5 }).agent.state).toBe('HEALING');
  });

  it('arms deadlines only for time-based states', () => {
    expect(nextDeadline(at('SUSPECTED'))).toBe(t0 + DEFAULT_LIFECYCLE_CONFIG.suspectWindowMs);
    expect(nextDeadline(at('DRAINING'))).toBe(t0 + DEFAULT_LIFECYCLE_CONFIG.drainTimeoutMs);
    expect(nextDeadline(at('PROBATION'))).toBe(t0 + DEFAULT_LIFECYCLE_CONFIG.probationMs);
    expect(nextDeadline(at('QUARANTINED'))).toBeUndefined();
  });

  it('blocks traffic exactly while draining, quarantined, healing or exhausted', () => {
    expect(LIFECYCLE_STATES.filter(isBlocked)).toEqual(['DRAINING', 'QUARANTINED', 'HEALING', 'EXHAUSTED']);
  });

  it('has exactly the specified edges', () => {
    const edges = new Set(lifecycleEdges().map((e) => `${e.from}>${e.to}`));
    expect([...edges].sort()).toEqual([...ALLOWED].sort());
  });

  it('never reaches a state by an unspecified path, whatever happens', () => {
    const step = fc.record({
      trigger: fc.constantFrom(...LIFECYCLE_TRIGGERS),
      dt: fc.integer({ min: 0, max: 120_000 }),
      anomaliesInWindow: fc.integer({ min: 0, max: 6 }),
      inFlight: fc.integer({ min: 0, max: 3 }),
      cleanVitals: fc.integer({ min: 0, max: 20 }),
      external: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        let agent = initialLifecycle('agent', 0);
        let now = 0;
        for (const s of steps) {
          now += s.dt;
          const ctx = { now, ...s, ...(s.external ? { reason: 'external' } : {}) };
          const check = checkTransition(agent, s.trigger, ctx);
          if (!check.ok) {
            expect(() => transition(agent, s.trigger, ctx)).toThrow(
              check.error.constructor as ErrorConstructor,
            );
            continue;
          }
          const { agent: next, event } = transition(agent, s.trigger, ctx);
          expect(ALLOWED.has(`${event.from}>${event.to}`)).toBe(true);
          expect(event.seq).toBe(agent.seq + 1);
          // Quarantine is only ever entered after draining.
          if (next.state === 'QUARANTINED') expect(agent.state).toBe('DRAINING');
          agent = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});
