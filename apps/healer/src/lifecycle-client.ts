import {
  type Bus,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  type ExternalLifecycleTrigger,
  SENTINEL_LIFECYCLE,
} from '@immune/bus';
import type { HealingActionType, LifecycleState } from '@immune/core';

/** Where each trigger the healer sends leads. */
const TARGETS: Record<ExternalLifecycleTrigger, LifecycleState> = {
  healing_started: 'HEALING',
  healing_succeeded: 'PROBATION',
  exhausted: 'EXHAUSTED',
  released: 'HEALTHY',
};

export interface LifecycleView {
  state: LifecycleState;
  entered_at: number;
}

interface ApplyInfo {
  reason?: string;
  infection_id?: string;
  action?: HealingActionType;
  by?: 'healer' | 'operator';
  /** With `by: operator`: the operator's token, which the sentinel verifies. */
  operatorToken?: string;
}

export type LifecycleAnswer =
  | { ok: true; view: LifecycleView }
  /** The sentinel refused (no such edge from the current state, or a guard); `view` is where the agent is. */
  | { ok: false; reason: 'refused'; code: string; message: string; view: LifecycleView | undefined }
  /** Nobody answered: retry later. */
  | { ok: false; reason: 'unavailable'; message: string };

/**
 * How many times a trigger is sent while the sentinel that answers is a replica not owning the agent's
 * partition (`not_owner`). Commands go to any replica of the queue group, picked at random, so each try is a
 * fresh draw: with two replicas, eight tries all miss the owner once in 256 triggers, and then the healer's
 * reconcile timer sends it again.
 */
const OWNER_TRIES = 8;

/**
 * The healer's side of `immune.cmd.sentinel.lifecycle`: the sentinel owns lifecycles, the healer asks it to
 * move an agent and reads back where the agent is. A refusal is an answer, not an exception, because after a
 * restart or a redelivery the agent is often already where the healer wanted it.
 */
export class LifecycleClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  async query(agentId: string): Promise<LifecycleAnswer> {
    try {
      const reply = await this.bus.request(
        SENTINEL_LIFECYCLE,
        { agent_id: agentId },
        { timeoutMs: this.timeoutMs },
      );
      return { ok: true, view: { state: reply.state, entered_at: reply.entered_at } };
    } catch (error) {
      return this.failure(error, undefined);
    }
  }

  async apply(
    agentId: string,
    trigger: ExternalLifecycleTrigger,
    info: ApplyInfo = {},
  ): Promise<LifecycleAnswer> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.applyOnce(agentId, trigger, info);
      } catch (error) {
        // A replica that does not own the agent refused before doing anything: asking again is safe.
        if (error instanceof BusCommandError && error.code === 'not_owner' && tries < OWNER_TRIES) continue;
        return this.failure(error, agentId);
      }
    }
  }

  private async applyOnce(
    agentId: string,
    trigger: ExternalLifecycleTrigger,
    info: ApplyInfo,
  ): Promise<LifecycleAnswer> {
    const reply = await this.bus.request(
      SENTINEL_LIFECYCLE,
      {
        agent_id: agentId,
        trigger,
        by: info.by ?? 'healer',
        ...(info.reason === undefined ? {} : { reason: info.reason }),
        ...(info.infection_id === undefined ? {} : { infection_id: info.infection_id }),
        ...(info.action === undefined ? {} : { action: info.action }),
        ...(trigger === 'healing_succeeded' ? { adapt_baseline: true } : {}),
      },
      { timeoutMs: this.timeoutMs, operatorToken: info.operatorToken },
    );
    const view = { state: reply.state, entered_at: reply.entered_at };
    // A sentinel that answers only queries replies with the unchanged state: that is no transition.
    if (reply.state !== TARGETS[trigger]) {
      return {
        ok: false,
        reason: 'refused',
        code: 'not_applied',
        message: `the sentinel left the agent in ${reply.state} after ${trigger}`,
        view,
      };
    }
    return { ok: true, view };
  }

  private async failure(error: unknown, agentId: string | undefined): Promise<LifecycleAnswer> {
    if (error instanceof BusNoRespondersError || error instanceof BusTimeoutError) {
      return { ok: false, reason: 'unavailable', message: error.message };
    }
    if (error instanceof BusCommandError) {
      const current = agentId === undefined ? undefined : await this.query(agentId);
      return {
        ok: false,
        reason: 'refused',
        code: error.code,
        message: error.message,
        view: current?.ok ? current.view : undefined,
      };
    }
    return {
      ok: false,
      reason: 'unavailable',
      message: error instanceof Error ? error.message : String(error),
    };
  }
}
