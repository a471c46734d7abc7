import type { DiagnosisType, HealingActionType } from '@immune/core';
import Type, { type Static } from 'typebox';

/**
 * Where an agent runs, as registered in its metadata (`metadata.container`), so the container executor knows
 * what to pause or restart. Names are checked so that none can pass for a command-line option.
 */
const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,252}$' });
export const ContainerTarget = Type.Union([
  Type.Object({ runtime: Type.Literal('docker'), name: Name }, { additionalProperties: false }),
  Type.Object(
    {
      runtime: Type.Literal('kubernetes'),
      deployment: Name,
      namespace: Type.Optional(Name),
      context: Type.Optional(Name),
      /** Replicas to scale back to after a pause; 1 when unset. */
      replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    { additionalProperties: false },
  ),
]);
export type ContainerTarget = Static<typeof ContainerTarget>;

/** What executors know about the agent they act on: what it registered (ingest, SDK) plus its usual model. */
export interface AgentTarget {
  agent_id: string;
  control_url: string | null;
  pid: number | null;
  model: string | null;
  container: ContainerTarget | null;
  /** Demo agents name the fault they simulate, so the simulated executor knows which cures work. */
  simulated_cause: DiagnosisType | null;
}

export interface ActionRequest {
  /** The attempt's id: also the idempotency key sent to agents, so a repeated call can be recognised. */
  attemptId: string;
  infectionId: string;
  agent: AgentTarget;
  action: HealingActionType;
  diagnosis: DiagnosisType;
  signal?: AbortSignal;
}

export type ActionResult =
  | { ok: true; detail?: string }
  /**
   * `unavailable`: the action could not even be tried (nothing reaches the agent, a setting is missing). That
   * says nothing about the cure, so immune memory does not learn from it.
   */
  | { ok: false; detail: string; unavailable?: boolean };

/** Carries out healing actions of some kinds on agents it can reach. */
export interface HealingExecutor {
  readonly name: string;
  /** Whether this executor knows the action and can reach this agent (control URL, PID, container...). */
  supports(action: HealingActionType, agent: AgentTarget): boolean;
  apply(request: ActionRequest): Promise<ActionResult>;
  /**
   * Undoes state a cure left behind (a gateway policy); called when it failed or the agent is released.
   * True when there was something to undo.
   */
  revert?(agent: AgentTarget, action: HealingActionType): Promise<boolean>;
}

/** Holds an agent while it waits in quarantine, beyond the gateway's block, and lets it go again. */
export interface Enforcer {
  readonly name: string;
  hold(agent: AgentTarget, reason: string, infectionId?: string): Promise<void>;
  lift(agent: AgentTarget): Promise<void>;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
