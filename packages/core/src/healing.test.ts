import { describe, expect, it } from 'vitest';
import type { Hypothesis } from './diagnosis.js';
import { DEFAULT_LADDERS, type MemoryRecord, planHealing, summarizeMemory } from './healing.js';

const hypotheses: Hypothesis[] = [
  { type: 'infinite_loop', confidence: 0.6, evidence: [] },
  { type: 'tool_instability', confidence: 0.3, evidence: [] },
  { type: 'unknown', confidence: 0.02, evidence: [] },
];

describe('planHealing', () => {
  it('follows the ladder of the top hypothesis, then falls back to the next one', () => {
    const plan = planHealing({ agentId: 'a', hypotheses });
    expect(plan.map((s) => `${s.diagnosis}:${s.action}`)).toEqual([
      'infinite_loop:reset_memory',
      'infinite_loop:cap_max_tokens',
      'infinite_loop:restart',
      'infinite_loop:throttle',
      // restart and throttle are already planned: no retrying what just failed under another diagnosis.
      'tool_instability:allowlist_tools',
    ]);
  });

  it('skips actions that already failed for this agent and diagnosis', () => {
    const memory = summarizeMemory([
      { agent_id: 'a', diagnosis: 'infinite_loop', action: 'reset_memory', outcome: 'failed' },
      { agent_id: 'b', diagnosis: 'infinite_loop', action: 'cap_max_tokens', outcome: 'failed' },
    ]);
    const plan = planHealing({ agentId: 'a', hypotheses: hypotheses.slice(0, 1), memory });
    expect(plan.map((s) => s.action)).not.toContain('reset_memory');
    // Another agent's failure does not remove the action for this one.
    expect(plan.map((s) => s.action)).toContain('cap_max_tokens');
  });

  it('forgets a failure once the same action later cured the agent', () => {
    const memory = summarizeMemory([
      { agent_id: 'a', diagnosis: 'infinite_loop', action: 'reset_memory', outcome: 'failed' },
      { agent_id: 'a', diagnosis: 'infinite_loop', action: 'reset_memory', outcome: 'succeeded' },
    ]);
    expect(planHealing({ agentId: 'a', hypotheses: hypotheses.slice(0, 1), memory })[0]!.action).toBe(
      'reset_memory',
    );
  });

  it('reorders the ladder by fleet-wide success rates', () => {
    const records: MemoryRecord[] = [];
    for (let i = 0; i < 8; i++) {
      records.push({
        agent_id: `x${i}`,
        diagnosis: 'infinite_loop',
        action: 'restart',
        outcome: 'succeeded',
      });
      records.push({
        agent_id: `y${i}`,
        diagnosis: 'infinite_loop',
        action: 'reset_memory',
        outcome: 'failed',
      });
    }
    const plan = planHealing({
      agentId: 'a',
      hypotheses: hypotheses.slice(0, 1),
      memory: summarizeMemory(records),
    });
    expect(plan.map((s) => s.action)).toEqual(['restart', 'cap_max_tokens', 'throttle', 'reset_memory']);
    expect(plan[0]!.expectedSuccess).toBeCloseTo(9 / 10, 12);
  });

  it('has a ladder for every diagnosis', () => {
    for (const ladder of Object.values(DEFAULT_LADDERS)) expect(ladder.length).toBeGreaterThan(0);
  });
});
