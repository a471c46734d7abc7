import { type Bus, type KvWatch, QUARANTINE_BUCKET, type QuarantineEntry } from '@immune/bus';
import { type ContainmentLevel, containmentLevel } from '@immune/core';

/**
 * How hard an agent is contained (core's `containmentLevel` of its entry). `full`: nothing it sends is
 * forwarded and its open streams are cut (every blocked lifecycle state). `soft` (the sentinel's containment
 * of a SUSPECTED agent's severe anomaly, while the lifecycle decides): its tool calls are throttled to
 * `MCP_PROXY_SOFT_CALLS_PER_MINUTE`, its streams stay. The entry's own `calls_per_minute` and `max_tokens`
 * are the agent's LLM-call rate and output baseline, which the gateway enforces; tool calls have no clamp.
 */
export type { ContainmentLevel };

export interface Containment {
  level: ContainmentLevel;
  entry: QuarantineEntry;
}

export interface CuttableStream {
  /** Answers the stream's pending requests with a quarantine error, at an event boundary, and ends it. */
  cut(entry: QuarantineEntry): void;
}

export function containmentOf(entry: QuarantineEntry): ContainmentLevel | undefined {
  return containmentLevel(entry);
}

/**
 * This replica's live copy of the quarantine bucket, and the agents' open streams so that a quarantine written
 * while they are open cuts them at once.
 */
export class QuarantineGuard {
  private readonly contained = new Map<string, Containment>();
  private readonly streams = new Map<string, Set<CuttableStream>>();
  private watch: KvWatch | undefined;

  async start(bus: Bus): Promise<void> {
    const bucket = await bus.kv(QUARANTINE_BUCKET);
    this.watch = await bucket.watch((change) => this.apply(change.key, change.value));
    await this.watch.ready;
  }

  apply(agentId: string, entry: QuarantineEntry | undefined): void {
    const level = entry === undefined ? undefined : containmentOf(entry);
    if (entry === undefined || level === undefined) {
      this.contained.delete(agentId);
      return;
    }
    this.contained.set(agentId, { level, entry });
    if (level !== 'full') return;
    for (const stream of [...(this.streams.get(agentId) ?? [])]) stream.cut(entry);
  }

  /** O(1): this runs on every request. */
  containmentOf(agentId: string): Containment | undefined {
    return this.contained.get(agentId);
  }

  /** Registers an open exchange; returns the function that unregisters it. */
  track(agentId: string, stream: CuttableStream): () => void {
    let set = this.streams.get(agentId);
    if (set === undefined) {
      set = new Set();
      this.streams.set(agentId, set);
    }
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0 && this.streams.get(agentId) === set) this.streams.delete(agentId);
    };
  }

  openStreams(agentId: string): number {
    return this.streams.get(agentId)?.size ?? 0;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
