import { type Bus, type KvWatch, QUARANTINE_BUCKET, type QuarantineEntry } from '@immune/bus';
import { containmentLevel } from '@immune/core';
import { SoftContainments } from './soft-containment.js';

export interface OpenCall {
  /**
   * The agent was quarantined while this call was in flight: abort the upstream request, and answer a refusal
   * (still waiting for headers) or end the stream cleanly with a final error event naming the reason.
   */
  kill(entry: QuarantineEntry): void;
}

/**
 * The gateway's live copy of the quarantine bucket. Every replica watches it, so a quarantine written by the
 * sentinel or healer is enforced by the very next request, and ends the agent's calls that are in flight,
 * whether they still wait for the provider's headers or already stream. A soft containment entry blocks
 * nothing: it goes to `soft`, which clamps and throttles the agent's calls instead.
 */
export class QuarantineView {
  private readonly blocked = new Map<string, QuarantineEntry>();
  readonly soft = new SoftContainments();
  private readonly calls = new Map<string, Set<OpenCall>>();
  private watch: KvWatch | undefined;

  async start(bus: Bus): Promise<void> {
    const kv = await bus.kv(QUARANTINE_BUCKET);
    this.watch = await kv.watch((change) => this.apply(change.key, change.value));
    await this.watch.ready;
  }

  apply(agentId: string, entry: QuarantineEntry | undefined): void {
    const level = entry === undefined ? undefined : containmentLevel(entry);
    if (entry === undefined || level !== 'full') {
      this.blocked.delete(agentId);
      if (entry !== undefined && level === 'soft') this.soft.set(agentId, entry);
      else this.soft.delete(agentId);
      return;
    }
    this.soft.delete(agentId);
    this.blocked.set(agentId, entry);
    const open = this.calls.get(agentId);
    if (open) for (const call of [...open]) call.kill(entry);
  }

  /** The quarantine that blocks this agent, if any. O(1). */
  blockOf(agentId: string): QuarantineEntry | undefined {
    return this.blocked.get(agentId);
  }

  /**
   * The request path's one quarantine check: returns the entry that blocks the agent, or registers the call,
   * in the same synchronous step, so no quarantine can slip in between the check and the registration. An
   * admitted call must be released on every way out (`release`).
   */
  admit(agentId: string, call: OpenCall): QuarantineEntry | undefined {
    const blocked = this.blocked.get(agentId);
    if (blocked) return blocked;
    let set = this.calls.get(agentId);
    if (!set) {
      set = new Set();
      this.calls.set(agentId, set);
    }
    set.add(call);
    return undefined;
  }

  release(agentId: string, call: OpenCall): void {
    const set = this.calls.get(agentId);
    if (!set?.delete(call)) return;
    if (set.size === 0) this.calls.delete(agentId);
  }

  list(): QuarantineEntry[] {
    return [...this.blocked.values()];
  }

  /** Calls of this agent in flight on this replica (waiting for headers or streaming). */
  openCalls(agentId: string): number {
    return this.calls.get(agentId)?.size ?? 0;
  }

  /** Calls in flight on this replica, every agent together. */
  get inFlight(): number {
    let total = 0;
    for (const set of this.calls.values()) total += set.size;
    return total;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
