import { AgentBaselines, ApprovalView, InfectionView, ProbationProgress } from '@immune/bus';
import {
  DiagnosisType,
  HealingAttempt,
  LifecycleState,
  LifecycleTransition,
  Severity,
  Vital,
} from '@immune/core';
import Type, { type Static } from 'typebox';

/**
 * The shapes the dashboard's read routes answer with: the routes' response schemas (and so the OpenAPI
 * document) and the web app's types come from here.
 */

export const AgentCard = Type.Object(
  {
    agent_id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    model: Type.Union([Type.String(), Type.Null()]),
    mcp_servers: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    state: LifecycleState,
    last_seen: Type.Integer(),
    quarantined: Type.Boolean(),
    infection_id: Type.Union([Type.String(), Type.Null()]),
    infection_status: Type.Union([Type.String(), Type.Null()]),
    approval: Type.Union([Type.String(), Type.Null()]),
    /** The latest case's severity and top-ranked diagnosis (null without any case, or before diagnosis). */
    severity: Type.Union([Severity, Type.Null()]),
    diagnosis: Type.Union([DiagnosisType, Type.Null()]),
    /**
     * The agent's worst σ per bucket over the window (`SPARK_BUCKETS` buckets, oldest first) over every metric
     * the sentinel judged, from its σ history (`sigma_buckets`); 0 where no vital was judged or none was above
     * its baseline.
     */
    sigma: Type.Array(Type.Number()),
  },
  { additionalProperties: false },
);
export type AgentCard = Static<typeof AgentCard>;

/** Buckets of an agent card's σ sparkline, whatever the window. */
export const SPARK_BUCKETS = 24;

export const FleetCauseView = Type.Object({
  anomaly_type: Type.String(),
  agents: Type.Array(Type.String()),
  fraction: Type.Number(),
  fleet_size: Type.Integer(),
  window_ms: Type.Integer(),
  ts: Type.Integer(),
});

/** Resolved / (resolved + exhausted) among the window's infections; null when none of them has ended. */
const HealingSuccessRate = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()]);

/**
 * The headline figures PostgreSQL can count for any window: calls, infections detected, healed, success rate,
 * uptime (the share of the agents' time spent serving, from the lifecycle log) and the agents per state when the
 * window closed.
 */
export const WindowFigures = Type.Object(
  {
    calls: Type.Integer(),
    infections: Type.Integer(),
    healed: Type.Integer(),
    healing_success_rate: HealingSuccessRate,
    uptime: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()]),
    by_state_at_end: Type.Record(Type.String(), Type.Integer()),
    held_at_end: Type.Integer(),
  },
  { additionalProperties: false },
);
export type WindowFigures = Static<typeof WindowFigures>;

export const Overview = Type.Object({
  window: Type.String(),
  window_ms: Type.Integer(),
  generated_at: Type.Integer(),
  agents: Type.Object({
    total: Type.Integer(),
    quarantined: Type.Integer(),
    by_state: Type.Record(Type.String(), Type.Integer()),
  }),
  ...WindowFigures.properties,
  /** The same figures over the window before this one, for each headline's trend. */
  previous: WindowFigures,
  fleet: Type.Array(FleetCauseView),
});
export type Overview = Static<typeof Overview>;

export const AgentDetail = Type.Object({
  agent: AgentCard,
  lifecycle: Type.Array(LifecycleTransition),
  infections: Type.Array(InfectionView),
  healing: Type.Array(HealingAttempt),
  recent_vitals: Type.Array(Vital),
  /** From the sentinel's triage state while the agent is on probation. */
  probation: Type.Union([ProbationProgress, Type.Null()]),
});
export type AgentDetail = Static<typeof AgentDetail>;

/** The metrics an agent page charts, in the order it shows them. */
export const CHARTED_METRICS = [
  'latency_ms',
  'total_tokens',
  'input_tokens',
  'output_tokens',
  'cost',
  'tool_calls',
  'retries',
] as const satisfies ReadonlyArray<keyof Vital>;
export type ChartedMetric = (typeof CHARTED_METRICS)[number];

/**
 * One metric's baseline band over time, from the sentinel's σ history: per bucket (start, oldest first) the band
 * of the bucket's latest judged vital in the metric's unit (typical, low, high at `threshold` σ) and the worst σ.
 * A band holds until the next bucket's start: the baseline only moves when the agent's vitals are learned.
 */
export const BandHistory = Type.Object(
  {
    ts: Type.Array(Type.Integer()),
    typical: Type.Array(Type.Number()),
    low: Type.Array(Type.Number()),
    high: Type.Array(Type.Number()),
    threshold: Type.Array(Type.Number()),
    worst_sigma: Type.Array(Type.Number()),
  },
  { additionalProperties: false },
);
export type BandHistory = Static<typeof BandHistory>;

export const AgentSeries = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  series: Type.Object({
    ts: Type.Array(Type.Integer()),
    values: Type.Record(Type.String(), Type.Array(Type.Number())),
  }),
  lifecycle: Type.Array(LifecycleTransition),
  healing: Type.Array(HealingAttempt),
  /** The sentinel's learned baselines now (not over time), null before the agent's first vital. */
  baselines: Type.Union([AgentBaselines, Type.Null()]),
  /**
   * The bands over the window, per judged metric, of one vital kind: the kind of `baselines` (the agent's
   * busiest), or the kind with the most judged vitals in the window; null when none was judged in it.
   */
  bands: Type.Union([
    Type.Object(
      {
        kind: Type.Union([Type.Literal('llm'), Type.Literal('tool'), Type.Literal('task')]),
        metrics: Type.Record(Type.String(), BandHistory),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ]),
});
export type AgentSeries = Static<typeof AgentSeries>;

export const Incident = Type.Object({
  infection: InfectionView,
  approval: Type.Union([ApprovalView, Type.Null()]),
  lifecycle: Type.Array(LifecycleTransition),
  /** The incident's agent on probation now (from the sentinel's triage state), else null. */
  probation: Type.Union([ProbationProgress, Type.Null()]),
});
export type Incident = Static<typeof Incident>;

export const Patterns = Type.Object({
  diagnoses: Type.Array(Type.String()),
  actions: Type.Array(Type.String()),
  cells: Type.Array(
    Type.Object({
      diagnosis: Type.String(),
      action: Type.String(),
      succeeded: Type.Integer(),
      failed: Type.Integer(),
    }),
  ),
});
export type Patterns = Static<typeof Patterns>;

export const DecisionResult = Type.Object({
  decided: Type.Array(ApprovalView),
  unchanged: Type.Array(
    Type.Object({
      approval_id: Type.String(),
      agent_id: Type.String(),
      status: Type.String(),
      reason: Type.String(),
    }),
  ),
});
export type DecisionResult = Static<typeof DecisionResult>;

export const DecisionPreview = Type.Object({
  decision: Type.String(),
  cases: Type.Array(ApprovalView),
  approval_ids: Type.Array(Type.String()),
  summary: Type.Array(Type.Object({ diagnosis: Type.String(), count: Type.Integer() })),
});
export type DecisionPreview = Static<typeof DecisionPreview>;
