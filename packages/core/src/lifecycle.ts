import Type, { type Static } from 'typebox';

export const LIFECYCLE_STATES = [
  'INITIALIZING',
  'HEALTHY',
  'SUSPECTED',
  'DRAINING',
  'QUARANTINED',
  'HEALING',
  'PROBATION',
  'EXHAUSTED',
] as const;
export const LifecycleState = Type.Enum(LIFECYCLE_STATES);
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** What can happen to an agent. Each trigger is legal only from some states, and only when its guard holds. */
export const LIFECYCLE_TRIGGERS = [
  'baseline_ready',
  'anomaly_detected',
  'suspicion_confirmed',
  'suspicion_cleared',
  'severe_anomaly',
  'drained',
  'healing_started',
  'healing_succeeded',
  'relapse',
  'probation_passed',
  'exhausted',
  'released',
] as const;
export const LifecycleTrigger = Type.Enum(LIFECYCLE_TRIGGERS);
export type LifecycleTrigger = (typeof LIFECYCLE_TRIGGERS)[number];

export interface LifecycleConfig {
  /** How long SUSPECTED waits for confirmation before clearing, ms. */
  suspectWindowMs: number;
  /** Anomalous vitals needed within the suspect window to confirm (the first one counts). */
  confirmAnomalies: number;
  /** How long DRAINING lets in-flight work finish before quarantine, ms. */
  drainTimeoutMs: number;
  /** How long PROBATION lasts, ms. */
  probationMs: number;
  /** Clean vitals needed during probation before the agent may return to HEALTHY. */
  probationMinVitals: number;
}

export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = {
  suspectWindowMs: 30_000,
  confirmAnomalies: 3,
  drainTimeoutMs: 10_000,
  probationMs: 60_000,
  probationMinVitals: 10,
};

/** The facts a guard looks at. Callers fill what they know; missing counters are taken as zero. */
export interface TransitionContext {
  now: number;
  /** Anomalous vitals seen since the agent entered SUSPECTED. */
  anomaliesInWindow?: number;
  /** Requests of this agent still in flight (DRAINING waits for zero). */
  inFlight?: number;
  /** Normal vitals seen since the agent entered PROBATION. */
  cleanVitals?: number;
  reason?: string;
}

/** The agent's position in its lifecycle: small and serialisable. */
export const AgentLifecycle = Type.Object(
  {
    agent_id: Type.String({ minLength: 1 }),
    state: LifecycleState,
    entered_at: Type.Integer({ minimum: 0 }),
    /** Monotonic per agent, so consumers can order and dedupe transitions. */
    seq: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type AgentLifecycle = Static<typeof AgentLifecycle>;

/** One transition: the body of a `lifecycle.changed` event and of a `lifecycle_events` row. */
export const LifecycleTransition = Type.Object(
  {
    agent_id: Type.String({ minLength: 1 }),
    from: LifecycleState,
    to: LifecycleState,
    trigger: LifecycleTrigger,
    ts: Type.Integer({ minimum: 0 }),
    seq: Type.Integer({ minimum: 1 }),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type LifecycleTransition = Static<typeof LifecycleTransition>;

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly from: LifecycleState,
    readonly trigger: LifecycleTrigger,
  ) {
    super(`lifecycle: '${trigger}' is not allowed from ${from}`);
  }
}

export class TransitionGuardError extends Error {
  override readonly name = 'TransitionGuardError';
  constructor(
    readonly from: LifecycleState,
    readonly trigger: LifecycleTrigger,
    readonly why: string,
  ) {
    super(`lifecycle: '${trigger}' from ${from} refused: ${why}`);
  }
}

type Guard = (agent: AgentLifecycle, ctx: TransitionContext, config: LifecycleConfig) => string | undefined;

interface Edge {
  from: readonly LifecycleState[];
  to: LifecycleState;
  /** Returns why the transition is refused, or undefined when it may happen. */
  guard?: Guard;
}

const elapsed = (agent: AgentLifecycle, ctx: TransitionContext) => ctx.now - agent.entered_at;

/**
 * The whole machine. An agent is blocked at the gateway in DRAINING (new requests only), QUARANTINED,
 * HEALING and EXHAUSTED; see `isBlocked`. PROBATION runs the agent with its cure applied.
 */
const EDGES: Record<LifecycleTrigger, Edge> = {
  baseline_ready: { from: ['INITIALIZING'], to: 'HEALTHY' },
  anomaly_detected: { from: ['HEALTHY'], to: 'SUSPECTED' },
  suspicion_confirmed: {
    from: ['SUSPECTED'],
    to: 'DRAINING',
    guard: (agent, ctx, config) => {
      const seen = ctx.anomaliesInWindow ?? 0;
      if (seen < config.confirmAnomalies) return `${seen} of ${config.confirmAnomalies} anomalies seen`;
      if (elapsed(agent, ctx) > config.suspectWindowMs) return 'suspect window already closed';
      return undefined;
    },
  },
  suspicion_cleared: {
    from: ['SUSPECTED'],
    to: 'HEALTHY',
    // Cleared either by the window running out or by an explicit external-cause reason (fleet correlation).
    guard: (agent, ctx, config) =>
      elapsed(agent, ctx) >= config.suspectWindowMs || ctx.reason !== undefined
        ? undefined
        : 'suspect window still open',
  },
  severe_anomaly: { from: ['HEALTHY', 'SUSPECTED', 'PROBATION'], to: 'DRAINING' },
  drained: {
    from: ['DRAINING'],
    to: 'QUARANTINED',
    guard: (agent, ctx, config) =>
      (ctx.inFlight ?? 0) === 0 || elapsed(agent, ctx) >= config.drainTimeoutMs
        ? undefined
        : `${ctx.inFlight} request(s) still in flight`,
  },
  healing_started: { from: ['QUARANTINED', 'EXHAUSTED'], to: 'HEALING' },
  healing_succeeded: { from: ['HEALING'], to: 'PROBATION' },
  relapse: { from: ['PROBATION'], to: 'HEALING' },
  probation_passed: {
    from: ['PROBATION'],
    to: 'HEALTHY',
    guard: (agent, ctx, config) => {
      if (elapsed(agent, ctx) < config.probationMs) return 'probation not over yet';
      const clean = ctx.cleanVitals ?? 0;
      if (clean < config.probationMinVitals) return `${clean} of ${config.probationMinVitals} clean vitals`;
      return undefined;
    },
  },
  exhausted: { from: ['HEALING', 'PROBATION', 'QUARANTINED'], to: 'EXHAUSTED' },
  released: {
    from: ['SUSPECTED', 'DRAINING', 'QUARANTINED', 'HEALING', 'PROBATION', 'EXHAUSTED'],
    to: 'HEALTHY',
  },
};

export function initialLifecycle(agentId: string, now: number): AgentLifecycle {
  return { agent_id: agentId, state: 'INITIALIZING', entered_at: now, seq: 0 };
}

/** The state `trigger` leads to from `from`, or undefined when the edge does not exist (guards aside). */
export function targetOf(from: LifecycleState, trigger: LifecycleTrigger): LifecycleState | undefined {
  const edge = EDGES[trigger];
  return edge.from.includes(from) ? edge.to : undefined;
}

export type TransitionCheck =
  | { ok: true; to: LifecycleState }
  | { ok: false; error: IllegalTransitionError | TransitionGuardError };

export function checkTransition(
  agent: AgentLifecycle,
  trigger: LifecycleTrigger,
  ctx: TransitionContext,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): TransitionCheck {
  const edge = EDGES[trigger];
  if (!edge.from.includes(agent.state))
    return { ok: false, error: new IllegalTransitionError(agent.state, trigger) };
  const refusal = edge.guard?.(agent, ctx, config);
  if (refusal !== undefined)
    return { ok: false, error: new TransitionGuardError(agent.state, trigger, refusal) };
  return { ok: true, to: edge.to };
}

/** Applies a transition. Throws IllegalTransitionError or TransitionGuardError; never mutates `agent`. */
export function transition(
  agent: AgentLifecycle,
  trigger: LifecycleTrigger,
  ctx: TransitionContext,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): { agent: AgentLifecycle; event: LifecycleTransition } {
  const check = checkTransition(agent, trigger, ctx, config);
  if (!check.ok) throw check.error;
  const seq = agent.seq + 1;
  const event: LifecycleTransition = {
    agent_id: agent.agent_id,
    from: agent.state,
    to: check.to,
    trigger,
    ts: ctx.now,
    seq,
    ...(ctx.reason === undefined ? {} : { reason: ctx.reason }),
  };
  return { agent: { agent_id: agent.agent_id, state: check.to, entered_at: ctx.now, seq }, event };
}

/** Whether the gateway and MCP proxy must refuse new requests from an agent in this state. */
export function isBlocked(state: LifecycleState): boolean {
  return state === 'DRAINING' || state === 'QUARANTINED' || state === 'HEALING' || state === 'EXHAUSTED';
}

/**
 * When a time-based transition of this state becomes possible, so the sentinel can arm one timer per agent
 * instead of polling. Undefined for states that only move on events.
 */
export function nextDeadline(
  agent: AgentLifecycle,
  config: LifecycleConfig = DEFAULT_LIFECYCLE_CONFIG,
): number | undefined {
  switch (agent.state) {
    case 'SUSPECTED':
      return agent.entered_at + config.suspectWindowMs;
    case 'DRAINING':
      return agent.entered_at + config.drainTimeoutMs;
    case 'PROBATION':
      return agent.entered_at + config.probationMs;
    default:
      return undefined;
  }
}

/** Every edge of the machine, for documentation and for tests that walk it. */
export function lifecycleEdges(): ReadonlyArray<{
  from: LifecycleState;
  trigger: LifecycleTrigger;
  to: LifecycleState;
}> {
  return LIFECYCLE_TRIGGERS.flatMap((trigger) =>
    EDGES[trigger].from.map((from) => ({ from, trigger, to: EDGES[trigger].to })),
  );
}
