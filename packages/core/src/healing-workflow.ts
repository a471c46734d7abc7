import type { AnomalyType, InfectionReport } from './anomaly.js';
import type { DiagnosisType, Hypothesis } from './diagnosis.js';
import { type FeedbackCounts, recordFeedback } from './diagnostician.js';
import {
  EMPTY_MEMORY,
  type HealingActionType,
  type HealingAttempt,
  type HealingStep,
  type ImmuneMemory,
  planHealing,
} from './healing.js';

/**
 * The healer's decisions, with no I/O: whether a case waits for an operator, what the next rung of the ladder
 * is given what was already tried for this infection, and how operator labels fold into the diagnostician's
 * feedback counts. The healer service keeps its workflow state in the database (infection status plus one
 * `healing_actions` row per attempt) and asks these functions what to do next, so a restarted healer decides
 * exactly as the one that stopped would have.
 */

export const DEFAULT_SEVERE_DEVIATION_THRESHOLD = 5;

/** Severe cases wait for an operator; milder ones heal automatically. */
export function requiresApproval(
  report: Pick<InfectionReport, 'max_deviation'>,
  severeThreshold = DEFAULT_SEVERE_DEVIATION_THRESHOLD,
): boolean {
  return report.max_deviation >= severeThreshold;
}

/**
 * The id of the n-th attempt of an infection. Deterministic, so writing the attempt's row is also a claim:
 * a second writer (a restarted healer, a redelivered event) finds the row and does not run the action again.
 */
export function attemptId(infectionId: string, step: number): string {
  return `${infectionId}#${step}`;
}

export type NextHealing =
  /** Start this rung: record it as pending, run it. */
  | {
      kind: 'step';
      step: number;
      diagnosis: DiagnosisType;
      action: HealingActionType;
      expectedSuccess: number;
    }
  /** An attempt was applied and probation is judging it: wait for probation.passed / probation.failed. */
  | { kind: 'await_probation'; attempt: HealingAttempt }
  /**
   * An attempt was started and never finished: the healer stopped while the executor ran. Whether the action
   * took effect is unknown, and running it again could do it twice, so it is closed as failed and the ladder
   * moves on.
   */
  | { kind: 'interrupted'; attempt: HealingAttempt }
  /** One attempt already cured the infection. */
  | { kind: 'cured'; attempt: HealingAttempt }
  /** Every planned action was tried. */
  | { kind: 'exhausted'; tried: Array<{ diagnosis: DiagnosisType; action: HealingActionType }> };

export interface NextHealingInput {
  agentId: string;
  hypotheses: readonly Hypothesis[];
  /** This infection's attempts so far, any order. */
  attempts: readonly HealingAttempt[];
  memory?: ImmuneMemory;
  ladders?: Record<DiagnosisType, readonly HealingActionType[]>;
  minConfidence?: number;
}

/**
 * What to do next for an infection being healed. The plan is recomputed from immune memory each time rather
 * than fixed when healing starts, so an action that just failed for this agent drops out, and fleet-wide
 * success learned meanwhile re-orders the rungs still ahead. Actions already tried for this infection are
 * never planned again, whatever diagnosis they were tried under.
 */
export function nextHealing(input: NextHealingInput): NextHealing {
  const attempts = [...input.attempts].sort((a, b) => a.step - b.step);
  const cured = attempts.find((a) => a.status === 'succeeded');
  if (cured !== undefined) return { kind: 'cured', attempt: cured };
  const open = attempts.find((a) => a.status === 'pending' || a.status === 'applied');
  if (open !== undefined) {
    return open.status === 'applied'
      ? { kind: 'await_probation', attempt: open }
      : { kind: 'interrupted', attempt: open };
  }
  const tried = new Set(attempts.map((a) => a.action));
  const plan: HealingStep[] = planHealing({
    agentId: input.agentId,
    hypotheses: input.hypotheses,
    memory: input.memory ?? EMPTY_MEMORY,
    ...(input.ladders === undefined ? {} : { ladders: input.ladders }),
    ...(input.minConfidence === undefined ? {} : { minConfidence: input.minConfidence }),
  }).filter((step) => !tried.has(step.action));
  const next = plan[0];
  if (next === undefined) {
    return { kind: 'exhausted', tried: attempts.map((a) => ({ diagnosis: a.diagnosis, action: a.action })) };
  }
  const step = attempts.length === 0 ? 0 : attempts[attempts.length - 1]!.step + 1;
  return { kind: 'step', step, ...next };
}

/** One operator label as stored. */
export interface FeedbackLabel {
  infection_id: string;
  true_cause: DiagnosisType;
  anomaly_types: readonly AnomalyType[];
  ts: number;
}

/**
 * Folds operator labels into the diagnostician's counts. An infection counts once, with its latest label: an
 * operator correcting a label, or a repeated command, must not weigh twice.
 */
export function foldFeedback(labels: Iterable<FeedbackLabel>): FeedbackCounts {
  const latest = new Map<string, FeedbackLabel>();
  for (const label of labels) {
    const seen = latest.get(label.infection_id);
    if (seen === undefined || label.ts >= seen.ts) latest.set(label.infection_id, label);
  }
  let counts: FeedbackCounts = {};
  for (const label of latest.values()) counts = recordFeedback(counts, label.anomaly_types, label.true_cause);
  return counts;
}
