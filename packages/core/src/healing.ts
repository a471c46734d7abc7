import Type, { type Static } from 'typebox';
import { type DiagnosisType, DiagnosisType as DiagnosisTypeSchema, type Hypothesis } from './diagnosis.js';

/**
 * Everything a healer can do to an agent. Which executor carries an action out (gateway policy, the agent's
 * control webhook, a process signal, a container command, or the demo's simulation) is the healer's
 * configuration, not the domain's.
 */
export const HEALING_ACTIONS = [
  'reset_memory',
  'rollback_prompt',
  'restart',
  'throttle',
  'cap_max_tokens',
  'strip_tools',
  'allowlist_tools',
  'pin_model',
  'downgrade_model',
  'reroute_provider',
  'wait_for_recovery',
  'block',
] as const;
export const HealingActionType = Type.Enum(HEALING_ACTIONS);
export type HealingActionType = (typeof HEALING_ACTIONS)[number];

/** How one attempt ended. `applied` means the executor did its part and probation is now judging it. */
export const HEALING_STATUSES = ['pending', 'applied', 'succeeded', 'failed'] as const;
export const HealingStatus = Type.Enum(HEALING_STATUSES);
export type HealingStatus = (typeof HEALING_STATUSES)[number];

/** A final verdict on an attempt: what immune memory learns from. */
export const HealingOutcome = Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]);
export type HealingOutcome = Static<typeof HealingOutcome>;

/** One attempt on the ladder: the body of healing.* events and of a `healing_actions` row. */
export const HealingAttempt = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    infection_id: Type.String({ minLength: 1 }),
    agent_id: Type.String({ minLength: 1 }),
    diagnosis: DiagnosisTypeSchema,
    action: HealingActionType,
    step: Type.Integer({ minimum: 0, description: 'Position in the plan, from 0' }),
    status: HealingStatus,
    ts: Type.Integer({ minimum: 0 }),
    detail: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type HealingAttempt = Static<typeof HealingAttempt>;

/** The default ladder per diagnosis: gentlest and most specific cure first, blocking last. */
export const DEFAULT_LADDERS: Record<DiagnosisType, readonly HealingActionType[]> = {
  prompt_drift: ['rollback_prompt', 'reset_memory', 'restart'],
  prompt_injection: ['strip_tools', 'reset_memory', 'rollback_prompt', 'block'],
  infinite_loop: ['reset_memory', 'cap_max_tokens', 'restart', 'throttle'],
  tool_instability: ['allowlist_tools', 'throttle', 'restart'],
  memory_corruption: ['reset_memory', 'restart', 'rollback_prompt'],
  cost_overrun: ['cap_max_tokens', 'downgrade_model', 'throttle'],
  external_cause: ['reroute_provider', 'wait_for_recovery', 'throttle'],
  unknown: ['restart', 'reset_memory', 'throttle', 'block'],
};

/** One past attempt's final outcome, as immune memory stores it. */
export interface MemoryRecord {
  agent_id: string;
  diagnosis: DiagnosisType;
  action: HealingActionType;
  outcome: HealingOutcome;
}

/** Immune memory folded into what planning needs: per-agent failures and fleet-wide success counts. */
export interface ImmuneMemory {
  failedForAgent: ReadonlySet<string>;
  fleet: ReadonlyMap<string, { succeeded: number; failed: number }>;
}

const memoryKey = (diagnosis: DiagnosisType, action: HealingActionType) => `${diagnosis}/${action}`;
const agentKey = (agentId: string, diagnosis: DiagnosisType, action: HealingActionType) =>
  `${agentId}\u0000${memoryKey(diagnosis, action)}`;

export function summarizeMemory(records: Iterable<MemoryRecord>): ImmuneMemory {
  const failedForAgent = new Set<string>();
  const fleet = new Map<string, { succeeded: number; failed: number }>();
  for (const record of records) {
    const key = memoryKey(record.diagnosis, record.action);
    const counts = fleet.get(key) ?? { succeeded: 0, failed: 0 };
    counts[record.outcome]++;
    fleet.set(key, counts);
    const perAgent = agentKey(record.agent_id, record.diagnosis, record.action);
    // The latest verdict wins: an action that failed once but later cured this agent is usable again.
    if (record.outcome === 'failed') failedForAgent.add(perAgent);
    else failedForAgent.delete(perAgent);
  }
  return { failedForAgent, fleet };
}

export const EMPTY_MEMORY: ImmuneMemory = { failedForAgent: new Set(), fleet: new Map() };

export interface HealingStep {
  diagnosis: DiagnosisType;
  action: HealingActionType;
  /** Laplace-smoothed fleet-wide success rate of this action for this diagnosis. */
  expectedSuccess: number;
}

export interface PlanOptions {
  agentId: string;
  hypotheses: readonly Hypothesis[];
  memory?: ImmuneMemory;
  ladders?: Record<DiagnosisType, readonly HealingActionType[]>;
  /** Hypotheses below this confidence are not worth a cure (the top one is always kept). */
  minConfidence?: number;
}

/**
 * The whole healing plan, in the order to try it: the ladder of the most likely diagnosis first, then the
 * next hypothesis's when that runs out. Within a ladder, actions that already failed for this agent and
 * diagnosis are skipped, and the rest are ordered by fleet-wide success rate, the ladder's own order breaking
 * ties. An action is planned at most once, since retrying what just failed under another name wastes time.
 */
export function planHealing(options: PlanOptions): HealingStep[] {
  const memory = options.memory ?? EMPTY_MEMORY;
  const ladders = options.ladders ?? DEFAULT_LADDERS;
  const minConfidence = options.minConfidence ?? 0.05;
  const planned = new Set<HealingActionType>();
  const plan: HealingStep[] = [];
  options.hypotheses.forEach((hypothesis, rank) => {
    if (rank > 0 && hypothesis.confidence < minConfidence) return;
    const candidates = ladders[hypothesis.type]
      .filter((action) => !planned.has(action))
      .filter((action) => !memory.failedForAgent.has(agentKey(options.agentId, hypothesis.type, action)))
      .map((action, position) => {
        const counts = memory.fleet.get(memoryKey(hypothesis.type, action)) ?? { succeeded: 0, failed: 0 };
        const expectedSuccess = (counts.succeeded + 1) / (counts.succeeded + counts.failed + 2);
        return { action, position, expectedSuccess };
      })
      .sort((a, b) => b.expectedSuccess - a.expectedSuccess || a.position - b.position);
    for (const candidate of candidates) {
      planned.add(candidate.action);
      plan.push({
        diagnosis: hypothesis.type,
        action: candidate.action,
        expectedSuccess: candidate.expectedSuccess,
      });
    }
  });
  return plan;
}
