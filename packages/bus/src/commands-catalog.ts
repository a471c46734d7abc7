import {
  BASELINE_METRICS,
  DiagnosisType,
  HealingActionType,
  HealingAttempt,
  Hypothesis,
  LifecycleState,
  LifecycleTransition,
  Severity,
} from '@immune/core';
import Type, { type Static } from 'typebox';
import { defineCommand, QuarantineEntry } from './messages.js';

/**
 * The request/reply commands between services, one definition each. Servers register handlers with
 * `bus.handleCommand`; callers use `bus.request`.
 */

/**
 * Lifecycle triggers another service may ask the sentinel to apply. The sentinel owns every agent's lifecycle
 * (the state lives in one place); the healer drives QUARANTINED -> HEALING -> PROBATION and EXHAUSTED through
 * these, and an operator's release goes the same way.
 */
export const EXTERNAL_LIFECYCLE_TRIGGERS = [
  'healing_started',
  'healing_succeeded',
  'exhausted',
  'released',
] as const;
export const ExternalLifecycleTrigger = Type.Enum(EXTERNAL_LIFECYCLE_TRIGGERS);
export type ExternalLifecycleTrigger = (typeof EXTERNAL_LIFECYCLE_TRIGGERS)[number];

/** An agent on probation: clean vitals so far and needed, and when its probation length is served. */
export const ProbationProgress = Type.Object(
  {
    clean_vitals: Type.Integer({ minimum: 0 }),
    min_vitals: Type.Integer({ minimum: 0 }),
    ends_at: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ProbationProgress = Static<typeof ProbationProgress>;

/** One metric's learned baseline in its own unit at the anomaly threshold `k` (core's `MetricBand`). */
export const MetricBand = Type.Object(
  {
    typical: Type.Number(),
    low: Type.Number(),
    high: Type.Number(),
    k: Type.Number(),
    samples: Type.Number({ minimum: 0 }),
    young: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type MetricBand = Static<typeof MetricBand>;

/** The sentinel's learned baselines of an agent's busiest vital kind, per metric. */
export const AgentBaselines = Type.Object(
  {
    kind: Type.Union([Type.Literal('llm'), Type.Literal('tool'), Type.Literal('task')]),
    metrics: Type.Object(Object.fromEntries(BASELINE_METRICS.map((metric) => [metric, MetricBand])), {
      additionalProperties: false,
    }),
  },
  { additionalProperties: false },
);
export type AgentBaselines = Static<typeof AgentBaselines>;

/**
 * `immune.cmd.sentinel.lifecycle`. Without `trigger`, a query: the agent's state and history, with its probation
 * progress and learned baselines (see `triageView` in core). With one, the
 * sentinel applies it (and writes or removes the quarantine entry it implies) and replies with the state
 * after it. `released` (or `by: operator`) is an operator's act, forwarded by the healer: it needs an operator
 * token of the operator role beside the body, and the sentinel records the token's name; the healer's own
 * triggers and queries need none (who may send them at all is the bus's permissions). Errors: `not_found` (an agent the sentinel never saw); `illegal_transition` when the edge does not exist from the current state;
 * `transition_refused` when a guard refuses; `not_owner` for a trigger that reached a replica not owning the
 * agent's partition (commands go to any replica; nothing was applied, so the caller sends it again). Any
 * replica answers a query, from the owner's checkpoint when it is not the owner.
 */
export const SENTINEL_LIFECYCLE = defineCommand({
  service: 'sentinel',
  verb: 'lifecycle',
  request: Type.Object(
    {
      agent_id: Type.String({ minLength: 1 }),
      trigger: Type.Optional(ExternalLifecycleTrigger),
      reason: Type.Optional(Type.String()),
      /** The infection being healed: the sentinel names it in probation.* events and quarantine entries. */
      infection_id: Type.Optional(Type.String({ minLength: 1 })),
      /** The cure just applied (with `healing_succeeded`): named in probation.* events. */
      action: Type.Optional(HealingActionType),
      /**
       * With `healing_succeeded`: switch the agent's baselines to fast adaptation (the cure changes what
       * normal looks like). Default true.
       */
      adapt_baseline: Type.Optional(Type.Boolean()),
      by: Type.Optional(Type.Union([Type.Literal('healer'), Type.Literal('operator')])),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object(
    {
      agent_id: Type.String(),
      state: LifecycleState,
      entered_at: Type.Integer({ minimum: 0 }),
      seq: Type.Integer({ minimum: 0 }),
      history: Type.Array(LifecycleTransition),
      /** While the agent is on probation: how far it is (from the sentinel's triage state). */
      probation: Type.Optional(ProbationProgress),
      /** The learned baselines, once the agent has sent a vital (from the sentinel's triage state). */
      baselines: Type.Optional(AgentBaselines),
    },
    { additionalProperties: false },
  ),
});

// ---------------------------------------------------------------------------------------------------------
// Healer: operator commands (`immune.cmd.healer.<verb>`), used by the CLI and the dashboard.
//
// Every one needs an operator token beside the body (`RequestOptions.operatorToken`, the
// `Immune-Operator-Token` header over NATS): reads any role, decisions the operator role. Who acts is the
// token's configured name; no request names an operator (a body that tries is refused as invalid). Refusals
// are error replies with code `unauthenticated` (no token, an unknown one) or `forbidden` (a viewer deciding).

/** One approval as operators see it: the case, the evidence and where it stands. */
export const ApprovalView = Type.Object(
  {
    approval_id: Type.String(),
    infection_id: Type.String(),
    agent_id: Type.String(),
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('approved'),
      Type.Literal('rejected'),
      Type.Literal('cancelled'),
    ]),
    requested_at: Type.Integer({ minimum: 0 }),
    decided_at: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    decided_by: Type.Union([Type.String(), Type.Null()]),
    note: Type.Union([Type.String(), Type.Null()]),
    severity: Severity,
    max_deviation: Type.Number(),
    anomalies: Type.Array(Type.String()),
    hypotheses: Type.Array(Hypothesis),
  },
  { additionalProperties: false },
);
export type ApprovalView = Static<typeof ApprovalView>;

export const HEALER_APPROVALS = defineCommand({
  service: 'healer',
  verb: 'approvals',
  request: Type.Object(
    {
      status: Type.Optional(
        Type.Union([
          Type.Literal('pending'),
          Type.Literal('rejected'),
          Type.Literal('approved'),
          Type.Literal('cancelled'),
        ]),
      ),
      agent_id: Type.Optional(Type.String({ minLength: 1 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ approvals: Type.Array(ApprovalView) }, { additionalProperties: false }),
});

/**
 * Whom a decision applies to: one agent's open case, one approval or infection by id, or every open case
 * (`all`). Exactly one of them.
 */
const DecisionRequest = Type.Object(
  {
    agent_id: Type.Optional(Type.String({ minLength: 1 })),
    approval_id: Type.Optional(Type.String({ minLength: 1 })),
    infection_id: Type.Optional(Type.String({ minLength: 1 })),
    all: Type.Optional(Type.Boolean()),
    /**
     * Only cases in this status: `heal` takes pending and rejected cases, and `{all: true, status: 'rejected'}`
     * heals the rejected ones without approving the pending ones unseen. A targeted case in another status is
     * reported unchanged.
     */
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('rejected')])),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/**
 * What a decision did. `decided` changed now; `unchanged` were already in the requested state or could not
 * take it (with the reason), so repeating a command is harmless.
 */
const DecisionReply = Type.Object(
  {
    decided: Type.Array(ApprovalView),
    unchanged: Type.Array(
      Type.Object(
        { approval_id: Type.String(), agent_id: Type.String(), status: Type.String(), reason: Type.String() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DecisionReply = Static<typeof DecisionReply>;

/** Approve pending cases: healing starts. */
export const HEALER_APPROVE = defineCommand({
  service: 'healer',
  verb: 'approve',
  request: DecisionRequest,
  reply: DecisionReply,
});
/** Reject pending cases: the agents stay quarantined and are listed as rejected. */
export const HEALER_REJECT = defineCommand({
  service: 'healer',
  verb: 'reject',
  request: DecisionRequest,
  reply: DecisionReply,
});
/** Heal now: starts healing of pending or rejected cases (`status` narrows it to one of them). */
export const HEALER_HEAL = defineCommand({
  service: 'healer',
  verb: 'heal',
  request: DecisionRequest,
  reply: DecisionReply,
});

export const HEALER_FEEDBACK = defineCommand({
  service: 'healer',
  verb: 'feedback',
  request: Type.Object(
    {
      /** The infection to label; or the agent's latest infection. */
      infection_id: Type.Optional(Type.String({ minLength: 1 })),
      agent_id: Type.Optional(Type.String({ minLength: 1 })),
      true_cause: DiagnosisType,
    },
    { additionalProperties: false },
  ),
  reply: Type.Object(
    {
      feedback_id: Type.String(),
      infection_id: Type.String(),
      agent_id: Type.String(),
      predicted: DiagnosisType,
      true_cause: DiagnosisType,
      anomaly_types: Type.Array(Type.String()),
    },
    { additionalProperties: false },
  ),
});

/** Manual quarantine: blocks the agent now (quarantine entry `by: operator`) and applies the enforcers. */
export const HEALER_QUARANTINE = defineCommand({
  service: 'healer',
  verb: 'quarantine',
  request: Type.Object(
    { agent_id: Type.String({ minLength: 1 }), reason: Type.Optional(Type.String({ maxLength: 2000 })) },
    { additionalProperties: false },
  ),
  reply: Type.Object(
    { agent_id: Type.String(), entry: QuarantineEntry, already: Type.Boolean() },
    { additionalProperties: false },
  ),
});

/**
 * Manual release: lifts an operator's quarantine, and releases an agent the sentinel holds (open cases are
 * cancelled, the healer's gateway cures reverted, the enforcers lifted).
 */
export const HEALER_RELEASE = defineCommand({
  service: 'healer',
  verb: 'release',
  request: Type.Object(
    { agent_id: Type.String({ minLength: 1 }), reason: Type.Optional(Type.String({ maxLength: 2000 })) },
    { additionalProperties: false },
  ),
  reply: Type.Object(
    {
      agent_id: Type.String(),
      released: Type.Boolean(),
      state: Type.Union([LifecycleState, Type.Null()]),
      cancelled_approvals: Type.Array(Type.String()),
      reverted: Type.Array(HealingActionType),
    },
    { additionalProperties: false },
  ),
});

/** One infection with its diagnosis and ladder so far. */
export const InfectionView = Type.Object(
  {
    infection_id: Type.String(),
    agent_id: Type.String(),
    ts: Type.Integer({ minimum: 0 }),
    status: Type.String(),
    severity: Severity,
    max_deviation: Type.Number(),
    anomalies: Type.Array(Type.String()),
    hypotheses: Type.Array(Hypothesis),
    attempts: Type.Array(HealingAttempt),
  },
  { additionalProperties: false },
);
export type InfectionView = Static<typeof InfectionView>;

export const HEALER_INFECTIONS = defineCommand({
  service: 'healer',
  verb: 'infections',
  request: Type.Object(
    {
      agent_id: Type.Optional(Type.String({ minLength: 1 })),
      infection_id: Type.Optional(Type.String({ minLength: 1 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ infections: Type.Array(InfectionView) }, { additionalProperties: false }),
});

/** The fleet as the healer's store knows it, with each agent's open case. */
export const HEALER_AGENTS = defineCommand({
  service: 'healer',
  verb: 'agents',
  request: Type.Object(
    { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) },
    { additionalProperties: false },
  ),
  reply: Type.Object(
    {
      agents: Type.Array(
        Type.Object(
          {
            agent_id: Type.String(),
            state: LifecycleState,
            last_seen: Type.Integer({ minimum: 0 }),
            quarantined: Type.Boolean(),
            infection_id: Type.Union([Type.String(), Type.Null()]),
            infection_status: Type.Union([Type.String(), Type.Null()]),
            approval: Type.Union([Type.String(), Type.Null()]),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  ),
});
