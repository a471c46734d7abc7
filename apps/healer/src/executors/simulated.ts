import type { DiagnosisType, HealingActionType } from '@immune/core';
import type { ActionRequest, ActionResult, AgentTarget, HealingExecutor } from './types.js';

/**
 * Which actions really cure each simulated fault. Deliberately not always the ladder's first rung, so the demo
 * shows escalation (an infinite loop is not cured by a memory reset, say).
 */
export const SIMULATED_CURES: Record<DiagnosisType, readonly HealingActionType[]> = {
  prompt_drift: ['rollback_prompt'],
  prompt_injection: ['strip_tools', 'rollback_prompt', 'block'],
  infinite_loop: ['cap_max_tokens', 'restart'],
  tool_instability: ['allowlist_tools', 'restart'],
  memory_corruption: ['reset_memory', 'restart'],
  cost_overrun: ['cap_max_tokens', 'downgrade_model', 'throttle'],
  external_cause: ['reroute_provider', 'wait_for_recovery'],
  unknown: ['restart'],
};

export interface SimulatedExecutorOptions {
  cures?: Record<DiagnosisType, readonly HealingActionType[]>;
  /** The fault an agent simulates; by default its registered `metadata.simulated_cause`. */
  causeOf?: (agent: AgentTarget) => DiagnosisType | null;
  /** Told about every cure that works, so a demo fleet can stop misbehaving. */
  onCured?: (agentId: string, action: HealingActionType) => void;
}

/**
 * The demo's executor: an action "works" when it cures the agent's simulated fault and reports failure
 * otherwise. An agent with no simulated fault accepts every action, and probation then judges it on vitals.
 */
export function createSimulatedExecutor(options: SimulatedExecutorOptions = {}): HealingExecutor & {
  readonly calls: ReadonlyArray<{ attemptId: string; agentId: string; action: HealingActionType }>;
} {
  const cures = options.cures ?? SIMULATED_CURES;
  const causeOf = options.causeOf ?? ((agent: AgentTarget) => agent.simulated_cause);
  const calls: Array<{ attemptId: string; agentId: string; action: HealingActionType }> = [];
  return {
    name: 'simulated',
    calls,
    supports: () => true,
    async apply(request: ActionRequest): Promise<ActionResult> {
      calls.push({ attemptId: request.attemptId, agentId: request.agent.agent_id, action: request.action });
      const cause = causeOf(request.agent);
      if (cause === null) return { ok: true, detail: `simulated ${request.action}` };
      if (cures[cause].includes(request.action)) {
        options.onCured?.(request.agent.agent_id, request.action);
        return { ok: true, detail: `simulated ${request.action} cures ${cause}` };
      }
      return { ok: false, detail: `simulated ${request.action} does not help against ${cause}` };
    },
  };
}

/** `wait_for_recovery`: nothing to do; probation shows whether the outside cause went away. */
export const noopExecutor: HealingExecutor = {
  name: 'noop',
  supports: (action) => action === 'wait_for_recovery',
  apply: async (request) => ({ ok: true, detail: `${request.action}: waiting, probation judges` }),
};
