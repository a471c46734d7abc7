import type { AnomalyType, InfectionReport } from './anomaly.js';
import { DIAGNOSIS_TYPES, type DiagnosisType, type Hypothesis } from './diagnosis.js';

type Weights = Partial<Record<DiagnosisType, number>>;

/**
 * What each anomaly type, on its own, suggests about the cause. The numbers are prior evidence weights, not
 * probabilities: they are summed over the anomalies seen (scaled by how strong each one was) and combined with
 * operator feedback before normalising.
 */
const EVIDENCE: Record<AnomalyType, Weights> = {
  prompt_change: { prompt_drift: 3, prompt_injection: 1.5 },
  token_spike: { infinite_loop: 1, memory_corruption: 1, cost_overrun: 0.8 },
  input_token_spike: { memory_corruption: 2, prompt_injection: 0.6 },
  output_token_spike: { infinite_loop: 1.2, prompt_injection: 0.6, cost_overrun: 0.6 },
  latency_spike: { external_cause: 1.5, tool_instability: 0.5 },
  tool_explosion: { infinite_loop: 2, tool_instability: 1, prompt_injection: 0.5 },
  high_retry_rate: { tool_instability: 1.5, infinite_loop: 1, external_cause: 0.8 },
  cost_spike: { cost_overrun: 2.5 },
  error_rate_spike: { external_cause: 1.5, tool_instability: 1.5 },
};

/** Patterns whose combination says more than the parts. */
const COMBINATIONS: ReadonlyArray<{ all: readonly AnomalyType[]; add: Weights; why: string }> = [
  {
    all: ['prompt_change', 'tool_explosion'],
    add: { prompt_injection: 3 },
    why: 'a new prompt came with a burst of tool calls',
  },
  {
    all: ['tool_explosion', 'high_retry_rate'],
    add: { infinite_loop: 2.5 },
    why: 'tool calls and retries repeat',
  },
  {
    all: ['latency_spike', 'error_rate_spike'],
    add: { external_cause: 2 },
    why: 'slow and failing together',
  },
  {
    all: ['input_token_spike', 'token_spike'],
    add: { memory_corruption: 1.5 },
    why: 'the context keeps growing',
  },
];

export interface DiagnosticianConfig {
  /** Weight of the built-in rules against operator feedback, in "labelled cases" (Dirichlet prior strength). */
  priorStrength: number;
  /** Evidence assigned to `unknown` so that weak evidence does not look certain. */
  unknownWeight: number;
  /** A strong anomaly counts more, up to this many times its threshold. */
  maxStrength: number;
  /** Threshold σ used to measure the strength of an anomaly. */
  sigmaThreshold: number;
}

export const DEFAULT_DIAGNOSTICIAN_CONFIG: DiagnosticianConfig = {
  priorStrength: 4,
  unknownWeight: 0.5,
  maxStrength: 3,
  sigmaThreshold: 3,
};

/**
 * Operator labels of past diagnoses, counted per anomaly type: how often an infection showing this anomaly
 * turned out to have this root cause. Small, serialisable, and built by folding `recordFeedback` over the
 * feedback rows.
 */
export type FeedbackCounts = Partial<Record<AnomalyType, Partial<Record<DiagnosisType, number>>>>;

export function recordFeedback(
  counts: FeedbackCounts,
  anomalyTypes: readonly AnomalyType[],
  trueCause: DiagnosisType,
): FeedbackCounts {
  const next: FeedbackCounts = { ...counts };
  for (const type of new Set(anomalyTypes)) {
    const row = { ...next[type] };
    row[trueCause] = (row[trueCause] ?? 0) + 1;
    next[type] = row;
  }
  return next;
}

/**
 * Ranks the likely causes of an infection. For each anomaly type present, the rule weights form a prior
 * distribution that operator feedback updates like a Dirichlet posterior: after enough labels saying
 * "latency spikes here were memory corruption", that cause rises for later latency spikes.
 */
export function diagnose(
  report: Pick<InfectionReport, 'anomalies' | 'fleet_correlated'>,
  feedback: FeedbackCounts = {},
  config: DiagnosticianConfig = DEFAULT_DIAGNOSTICIAN_CONFIG,
): Hypothesis[] {
  const score = new Map<DiagnosisType, number>(DIAGNOSIS_TYPES.map((t) => [t, 0]));
  const evidence = new Map<DiagnosisType, string[]>(DIAGNOSIS_TYPES.map((t) => [t, []]));
  const add = (type: DiagnosisType, weight: number, why: string) => {
    score.set(type, score.get(type)! + weight);
    if (weight > 0) evidence.get(type)!.push(why);
  };

  const strongest = new Map<AnomalyType, number>();
  for (const anomaly of report.anomalies) {
    strongest.set(anomaly.type, Math.max(strongest.get(anomaly.type) ?? 0, anomaly.sigma));
  }

  for (const [type, sigma] of strongest) {
    const strength = Math.min(Math.max(sigma / config.sigmaThreshold, 1), config.maxStrength);
    const rules = EVIDENCE[type];
    const ruleTotal = Object.values(rules).reduce((a, b) => a + b, 0);
    const labels = feedback[type] ?? {};
    const labelTotal = Object.values(labels).reduce((a, b) => a + (b ?? 0), 0);
    // Posterior mean of a Dirichlet whose prior is the rule weights (normalised, with strength
    // priorStrength) and whose observations are the operator's labels; scaled back to the rule mass so that
    // anomalies keep their relative weight.
    for (const cause of DIAGNOSIS_TYPES) {
      const prior = (rules[cause] ?? 0) / ruleTotal;
      const posterior =
        (config.priorStrength * prior + (labels[cause] ?? 0)) / (config.priorStrength + labelTotal);
      if (posterior <= 0) continue;
      const labelled = labels[cause] ?? 0;
      const why =
        labelled > 0
          ? `${type} at ${sigma.toFixed(1)}σ (operators confirmed ${cause} ${labelled}x for ${type})`
          : `${type} at ${sigma.toFixed(1)}σ`;
      add(cause, posterior * ruleTotal * strength, why);
    }
  }

  for (const combination of COMBINATIONS) {
    if (combination.all.every((t) => strongest.has(t))) {
      for (const [cause, weight] of Object.entries(combination.add) as [DiagnosisType, number][]) {
        add(cause, weight, combination.why);
      }
    }
  }

  if (report.fleet_correlated) {
    // Many agents at once: whatever the pattern, the cause is most likely outside the agent.
    const total = [...score.values()].reduce((a, b) => a + b, 0);
    add('external_cause', Math.max(total, 1) * 2, 'the same anomaly appeared across the fleet at once');
  }

  add('unknown', config.unknownWeight, 'the evidence may fit none of the known causes');

  const total = [...score.values()].reduce((a, b) => a + b, 0);
  return DIAGNOSIS_TYPES.map((type) => ({
    type,
    confidence: score.get(type)! / total,
    evidence: evidence.get(type)!,
  }))
    .filter((h) => h.confidence > 0)
    .sort(
      (a, b) =>
        b.confidence - a.confidence || DIAGNOSIS_TYPES.indexOf(a.type) - DIAGNOSIS_TYPES.indexOf(b.type),
    );
}
