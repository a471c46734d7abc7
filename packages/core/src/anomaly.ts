import Type, { type Static } from 'typebox';
import { BASELINE_METRICS, type BaselineMetric, Vital } from './vital.js';

/** What an anomaly was measured on: a baseline metric, a windowed rate, or the prompt-hash set. */
export const AnomalyMetric = Type.Union([
  Type.Literal('total_tokens'),
  Type.Literal('input_tokens'),
  Type.Literal('output_tokens'),
  Type.Literal('latency_ms'),
  Type.Literal('tool_calls'),
  Type.Literal('cost'),
  Type.Literal('error_rate'),
  Type.Literal('retry_rate'),
  Type.Literal('prompt_hash'),
]);
export type AnomalyMetric = Static<typeof AnomalyMetric>;

/**
 * The anomaly catalogue: every anomaly type, in a fixed order (bit positions, tallies), with what it is
 * measured on. Everything that sorts types by how they are measured derives from this one table.
 */
export const ANOMALY_CATALOGUE = {
  token_spike: { metric: 'total_tokens' },
  input_token_spike: { metric: 'input_tokens' },
  output_token_spike: { metric: 'output_tokens' },
  latency_spike: { metric: 'latency_ms' },
  tool_explosion: { metric: 'tool_calls' },
  high_retry_rate: { metric: 'retry_rate' },
  cost_spike: { metric: 'cost' },
  prompt_change: { metric: 'prompt_hash' },
  error_rate_spike: { metric: 'error_rate' },
} as const satisfies Record<string, { metric: AnomalyMetric }>;
export type AnomalyType = keyof typeof ANOMALY_CATALOGUE;
export const ANOMALY_TYPES = Object.keys(ANOMALY_CATALOGUE) as readonly AnomalyType[];
export const AnomalyType = Type.Enum(ANOMALY_TYPES);

/**
 * The types judged per vital against one of the agent's metric baselines (`BASELINE_METRICS`), as opposed to
 * windowed rates, the prompt set and repetition loops: one vital alone is never corroboration for them.
 */
export const METRIC_ANOMALY_TYPES: ReadonlySet<AnomalyType> = new Set(
  ANOMALY_TYPES.filter((type) => isBaselineMetric(ANOMALY_CATALOGUE[type].metric)),
);

/** The anomaly types the catalogue measures on a baseline metric. */
export type MetricAnomalyType = {
  [T in AnomalyType]: (typeof ANOMALY_CATALOGUE)[T]['metric'] extends BaselineMetric ? T : never;
}[AnomalyType];

/**
 * The type each baseline metric reports, read off the catalogue. Every baseline metric needs exactly one:
 * a catalogue that lacks one or measures a metric twice fails when this module loads.
 */
export const BASELINE_METRIC_ANOMALY: Readonly<Record<BaselineMetric, MetricAnomalyType>> =
  baselineMetricAnomaly();

function baselineMetricAnomaly(): Record<BaselineMetric, MetricAnomalyType> {
  const byMetric = new Map<BaselineMetric, MetricAnomalyType>();
  for (const type of METRIC_ANOMALY_TYPES) {
    const metric = ANOMALY_CATALOGUE[type].metric as BaselineMetric;
    if (byMetric.has(metric)) throw new Error(`anomaly catalogue: ${metric} is measured by two types`);
    byMetric.set(metric, type as MetricAnomalyType);
  }
  const out = {} as Record<BaselineMetric, MetricAnomalyType>;
  for (const metric of BASELINE_METRICS) {
    const type = byMetric.get(metric);
    if (type === undefined) throw new Error(`anomaly catalogue: no type measures ${metric}`);
    out[metric] = type;
  }
  return out;
}

function isBaselineMetric(metric: AnomalyMetric): metric is BaselineMetric {
  return (BASELINE_METRICS as readonly string[]).includes(metric);
}

export const Anomaly = Type.Object(
  {
    type: AnomalyType,
    metric: AnomalyMetric,
    observed: Type.Number({ description: 'The value seen (a rate for windowed metrics)' }),
    expected: Type.Number({ description: 'The baseline mean for this agent' }),
    sigma: Type.Number({ description: "Deviation from the agent's own baseline, in standard deviations" }),
  },
  { additionalProperties: false },
);
export type Anomaly = Static<typeof Anomaly>;

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const Severity = Type.Enum(SEVERITIES);
export type Severity = (typeof SEVERITIES)[number];

export interface SeverityThresholds {
  /** σ at or above which an infection is `medium`. */
  medium: number;
  /** σ at or above which an infection is `high`: the default SEVERE_DEVIATION_THRESHOLD. */
  high: number;
  /** σ at or above which an infection is `critical`. */
  critical: number;
}

export const DEFAULT_SEVERITY_THRESHOLDS: SeverityThresholds = { medium: 4, high: 5, critical: 8 };

export function severityOf(maxDeviation: number, thresholds = DEFAULT_SEVERITY_THRESHOLDS): Severity {
  if (maxDeviation >= thresholds.critical) return 'critical';
  if (maxDeviation >= thresholds.high) return 'high';
  if (maxDeviation >= thresholds.medium) return 'medium';
  return 'low';
}

/** What the sentinel publishes in `infection.detected`: the evidence, ready for the diagnostician. */
export const InfectionReport = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    agent_id: Type.String({ minLength: 1 }),
    ts: Type.Integer({ minimum: 0 }),
    anomalies: Type.Array(Anomaly, { minItems: 1 }),
    deviations: Type.Record(Type.String(), Type.Number(), {
      description: 'Largest σ per metric among the anomalies',
    }),
    max_deviation: Type.Number(),
    severity: Severity,
    fleet_correlated: Type.Boolean({
      description: 'True when the fleet correlator saw the same anomaly widely',
    }),
    recent_vitals: Type.Array(Vital, { description: 'The last few vitals of the agent, newest last' }),
  },
  { additionalProperties: false },
);
export type InfectionReport = Static<typeof InfectionReport>;

export function buildInfectionReport(input: {
  id: string;
  agentId: string;
  ts: number;
  anomalies: readonly Anomaly[];
  fleetCorrelated?: boolean;
  recentVitals?: readonly Vital[];
  thresholds?: SeverityThresholds;
}): InfectionReport {
  if (input.anomalies.length === 0) throw new RangeError('an infection report needs at least one anomaly');
  const deviations: Record<string, number> = {};
  let maxDeviation = 0;
  for (const anomaly of input.anomalies) {
    deviations[anomaly.metric] = Math.max(deviations[anomaly.metric] ?? 0, anomaly.sigma);
    maxDeviation = Math.max(maxDeviation, anomaly.sigma);
  }
  return {
    id: input.id,
    agent_id: input.agentId,
    ts: input.ts,
    anomalies: [...input.anomalies],
    deviations,
    max_deviation: maxDeviation,
    severity: severityOf(maxDeviation, input.thresholds),
    fleet_correlated: input.fleetCorrelated ?? false,
    recent_vitals: [...(input.recentVitals ?? [])],
  };
}
