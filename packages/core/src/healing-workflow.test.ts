import { describe, expect, it } from 'vitest';
import type { Hypothesis } from './diagnosis.js';
import { diagnose } from './diagnostician.js';
import type { HealingAttempt } from './healing.js';
import { summarizeMemory } from './healing.js';
import { attemptId, foldFeedback, nextHealing, requiresApproval } from './healing-workflow.js';

const hypotheses: Hypothesis[] = [
  { type: 'infinite_loop', confidence: 0.7, evidence: [] },
  { type: 'tool_instability', confidence: 0.3, evidence: [] },
];

const attempt = (step: number, action: HealingAttempt['action'], status: HealingAttempt['status']) =>
  ({
    id: attemptId('inf', step),
    infection_id: 'inf',
    agent_id: 'a',
    diagnosis: 'infinite_loop',
    action,
    step,
    status,
    ts: step,
  }) satisfies HealingAttempt;

describe('healing workflow', () => {
  it('asks an operator at or above the severe threshold only', () => {
    expect(requiresApproval({ max_deviation: 5 })).toBe(true);
    expect(requiresApproval({ max_deviation: 4.99 })).toBe(false);
    expect(requiresApproval({ max_deviation: 6 }, 8)).toBe(false);
  });

  it('starts with the top hypothesis and walks past what was tried', () => {
    expect(nextHealing({ agentId: 'a', hypotheses, attempts: [] })).toMatchObject({
      kind: 'step',
      step: 0,
      diagnosis: 'infinite_loop',
      action: 'reset_memory',
    });
    const after = nextHealing({
      agentId: 'a',
      hypotheses,
      attempts: [attempt(0, 'reset_memory', 'failed'), attempt(1, 'cap_max_tokens', 'failed')],
    });
    expect(after).toMatchObject({ kind: 'step', step: 2, action: 'restart' });
  });

  it('moves on to the next hypothesis, then runs out', () => {
    const tried = (['reset_memory', 'cap_max_tokens', 'restart', 'throttle'] as const).map((a, i) =>
      attempt(i, a, 'failed'),
    );
    expect(nextHealing({ agentId: 'a', hypotheses, attempts: tried })).toMatchObject({
      kind: 'step',
      step: 4,
      diagnosis: 'tool_instability',
      action: 'allowlist_tools',
    });
    const all = [
      ...tried,
      { ...attempt(4, 'allowlist_tools', 'failed'), diagnosis: 'tool_instability' as const },
    ];
    const next = nextHealing({ agentId: 'a', hypotheses, attempts: all });
    expect(next.kind).toBe('exhausted');
    if (next.kind === 'exhausted') expect(next.tried).toHaveLength(5);
  });

  it('waits for probation, closes interrupted attempts, stops once cured', () => {
    expect(
      nextHealing({ agentId: 'a', hypotheses, attempts: [attempt(0, 'reset_memory', 'applied')] }).kind,
    ).toBe('await_probation');
    expect(
      nextHealing({ agentId: 'a', hypotheses, attempts: [attempt(0, 'reset_memory', 'pending')] }).kind,
    ).toBe('interrupted');
    expect(
      nextHealing({ agentId: 'a', hypotheses, attempts: [attempt(0, 'reset_memory', 'succeeded')] }).kind,
    ).toBe('cured');
  });

  it('skips what failed before for this agent and re-orders by fleet success', () => {
    const memory = summarizeMemory([
      { agent_id: 'a', diagnosis: 'infinite_loop', action: 'reset_memory', outcome: 'failed' },
      { agent_id: 'b', diagnosis: 'infinite_loop', action: 'restart', outcome: 'succeeded' },
      { agent_id: 'c', diagnosis: 'infinite_loop', action: 'restart', outcome: 'succeeded' },
    ]);
    expect(nextHealing({ agentId: 'a', hypotheses, attempts: [], memory })).toMatchObject({
      action: 'restart',
    });
  });

  it('counts an infection once in feedback, with its latest label, and the label moves rankings', () => {
    const anomalies = [
      { type: 'latency_spike' as const, metric: 'latency_ms' as const, observed: 9, expected: 1, sigma: 6 },
    ];
    const before = diagnose({ anomalies, fleet_correlated: false });
    const labels = [1, 2, 3, 4].flatMap((n) => [
      {
        infection_id: `i${n}`,
        true_cause: 'external_cause' as const,
        anomaly_types: ['latency_spike' as const],
        ts: 1,
      },
      {
        infection_id: `i${n}`,
        true_cause: 'memory_corruption' as const,
        anomaly_types: ['latency_spike' as const],
        ts: 2,
      },
    ]);
    const counts = foldFeedback(labels);
    expect(counts.latency_spike).toEqual({ memory_corruption: 4 });
    const after = diagnose({ anomalies, fleet_correlated: false }, counts);
    expect(before[0]!.type).toBe('external_cause');
    expect(after[0]!.type).toBe('memory_corruption');
  });
});
