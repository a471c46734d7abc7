import type { LifecycleTransition } from '@immune/core';
import { describe, expect, it } from 'vitest';
import { fleetTime } from './fleet-time.js';

const move = (to: LifecycleTransition['to'], ts: number): LifecycleTransition => ({
  agent_id: 'a',
  from: 'HEALTHY',
  to,
  trigger: 'suspicion_confirmed',
  ts,
  seq: ts,
});

describe('fleetTime', () => {
  it('counts blocked time against uptime and ends each agent in its last state', () => {
    const figures = fleetTime(
      [
        // Serving 0-40, quarantined 40-70, healing 70-80, probation 80-100: 60 of 100 serving.
        {
          agent_id: 'a',
          from: 0,
          initial: 'HEALTHY',
          transitions: [move('QUARANTINED', 40), move('HEALING', 70), move('PROBATION', 80)],
        },
        // Seen from 50, healthy throughout: 50 of 50.
        { agent_id: 'b', from: 50, initial: 'INITIALIZING', transitions: [move('HEALTHY', 60)] },
      ],
      100,
    );
    expect(figures.uptime).toBeCloseTo(110 / 150, 10);
    expect(figures.by_state_at_end).toMatchObject({ PROBATION: 1, HEALTHY: 1, QUARANTINED: 0 });
    expect(figures.held_at_end).toBe(0);
  });

  it('has no uptime without agents', () => {
    expect(fleetTime([], 100).uptime).toBeNull();
  });
});
