import type { Decision, DecisionResult } from './api.js';

export const VERB: Record<Decision, string> = { approve: 'Approve', reject: 'Reject', heal: 'Heal now' };
/** The bulk buttons' names: Heal all takes the rejected cases, the others the pending ones. */
export const BULK_VERB: Record<Decision, string> = {
  approve: 'Approve all',
  reject: 'Reject all',
  heal: 'Heal all',
};
/** The verb for the bulk dialog's confirm button ("Heal 3 cases"). */
const BULK_ACTION: Record<Decision, string> = { approve: 'Approve', reject: 'Reject', heal: 'Heal' };

export const bulkConfirmLabel = (decision: Decision, count: number) =>
  `${BULK_ACTION[decision]} ${count} ${count === 1 ? 'case' : 'cases'}`;

/** One line on what a decision did: how many cases were decided now, and which were already decided. */
export function describe(decision: Decision, result: DecisionResult): string {
  const parts = [`${VERB[decision]}: ${result.decided.length} decided`];
  if (result.unchanged.length > 0)
    parts.push(
      `${result.unchanged.length} already decided (${result.unchanged.map((u) => `${u.agent_id || u.approval_id}: ${u.reason}`).join('; ')})`,
    );
  return parts.join(', ');
}

/** What a decision did, case by case: decided now, or left as it was (with the healer's reason). */
export interface CaseOutcome {
  approval_id: string;
  agent_id: string;
  outcome: 'decided' | 'unchanged';
  detail: string;
}

export function outcomes(result: DecisionResult): CaseOutcome[] {
  return [
    ...result.decided.map((item) => ({
      approval_id: item.approval_id,
      agent_id: item.agent_id,
      outcome: 'decided' as const,
      detail: `${item.status} by ${item.decided_by ?? 'you'}`,
    })),
    ...result.unchanged.map((item) => ({
      approval_id: item.approval_id,
      agent_id: item.agent_id || item.approval_id,
      outcome: 'unchanged' as const,
      detail: item.reason,
    })),
  ];
}

/** A decision's summary line and its per-case outcomes, as the queue shows them after a decision. */
export interface DecisionReport {
  summary: string;
  cases: CaseOutcome[];
}

export const report = (decision: Decision, result: DecisionResult): DecisionReport => ({
  summary: describe(decision, result),
  cases: outcomes(result),
});
