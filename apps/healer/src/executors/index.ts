import type { HealingActionType } from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { ExecutorName } from '../config.js';
import type { ActionRequest, ActionResult, AgentTarget, Enforcer, HealingExecutor } from './types.js';
import { errorText } from './types.js';

export * from './container.js';
export * from './gateway.js';
export * from './process.js';
export * from './simulated.js';
export * from './types.js';
export * from './webhook.js';

/** Which executors may run each action, in order of preference, unless HEALER_ACTION_EXECUTORS says otherwise. */
export const DEFAULT_ACTION_EXECUTORS: Record<HealingActionType, readonly ExecutorName[]> = {
  reset_memory: ['webhook'],
  rollback_prompt: ['webhook'],
  restart: ['webhook', 'container', 'process'],
  throttle: ['gateway'],
  cap_max_tokens: ['gateway'],
  strip_tools: ['gateway'],
  allowlist_tools: ['gateway'],
  pin_model: ['gateway'],
  downgrade_model: ['gateway'],
  reroute_provider: ['gateway'],
  wait_for_recovery: ['noop'],
  block: ['gateway'],
};

/**
 * Picks, per action and agent, the first configured executor that can reach the agent, runs it with a time
 * limit and turns a throw into a failed result, so one broken executor never stalls a ladder.
 */
export class ExecutorRouter {
  constructor(
    private readonly executors: ReadonlyMap<string, HealingExecutor>,
    private readonly routes: Partial<Record<HealingActionType, readonly string[]>>,
    private readonly timeoutMs: number,
  ) {}

  pick(action: HealingActionType, agent: AgentTarget): HealingExecutor | undefined {
    const names = this.routes[action] ?? DEFAULT_ACTION_EXECUTORS[action];
    for (const name of names) {
      const executor = this.executors.get(name);
      if (executor?.supports(action, agent)) return executor;
    }
    return undefined;
  }

  async apply(request: ActionRequest): Promise<ActionResult & { executor: string | null }> {
    const executor = this.pick(request.action, request.agent);
    if (executor === undefined) {
      const names = (this.routes[request.action] ?? DEFAULT_ACTION_EXECUTORS[request.action]).join(', ');
      return {
        ok: false,
        unavailable: true,
        executor: null,
        detail: `no executor (${names}) can run ${request.action} on this agent`,
      };
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const result = await executor.apply({ ...request, signal: controller.signal });
      return { ...result, executor: executor.name };
    } catch (error) {
      return { ok: false, executor: executor.name, detail: `${executor.name} failed: ${errorText(error)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Undoes what the executor that would run this action left behind; a no-op for executors with nothing to undo. */
  async revert(action: HealingActionType, agent: AgentTarget): Promise<boolean> {
    const executor = this.pick(action, agent);
    if (executor?.revert === undefined) return false;
    return executor.revert(agent, action);
  }
}

/** Several enforcers as one ("composite"); none at all is HEALER_ENFORCEMENT empty. Failures are logged, not fatal. */
export function compositeEnforcer(enforcers: readonly Enforcer[], logger: Logger): Enforcer {
  const each = async (what: 'hold' | 'lift', run: (e: Enforcer) => Promise<void>, agentId: string) => {
    await Promise.all(
      enforcers.map(async (enforcer) => {
        try {
          await run(enforcer);
        } catch (error) {
          logger.warn(
            { err: error, agent_id: agentId, enforcer: enforcer.name, event: `enforcement-${what}-failed` },
            `${enforcer.name} enforcement could not ${what} the agent`,
          );
        }
      }),
    );
  };
  return {
    name: enforcers.map((e) => e.name).join('+') || 'none',
    hold: (agent, reason, infectionId) =>
      each('hold', (e) => e.hold(agent, reason, infectionId), agent.agent_id),
    lift: (agent) => each('lift', (e) => e.lift(agent), agent.agent_id),
  };
}
