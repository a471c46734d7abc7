import type { Decision, DecisionResult } from './api.js';

export const VERB: Record<Decision, string> = { approve: 'Approve', reject: 'Reject', heal: 'Heal now' };

/** One line on what a decision did: how many cases were decided now, and which were already decided. */
export function describe(decision: Decision, result: DecisionResult): string {
  const parts = [`${VERB[decision]}: ${result.decided.length} decided`];
  if (result.unchanged.length > 0)
    parts.push(
      `${result.unchanged.length} already decided (${result.unchanged.map((u) => `${u.agent_id || u.approval_id}: ${u.reason}`).join('; ')})`,
    );
  return parts.join(', ');
}
