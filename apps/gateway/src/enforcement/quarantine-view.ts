import { type Bus, type KvWatch, QUARANTINE_BUCKET, type QuarantineEntry } from '@immune/bus';
import { isBlocked } from '@immune/core';

export interface OpenStream {
  /** Ends the stream cleanly with a final error event naming the reason. */
  kill(entry: QuarantineEntry): void;
}

/**
 * The gateway's live copy of the quarantine bucket. Every replica watches it, so a quarantine written by the
 * sentinel or healer is enforced by the very next request, and ends the agent's streams that are open.
 */
export class QuarantineView {
  private readonly blocked = new Map<string, QuarantineEntry>();
  private readonly streams = new Map<string, Set<OpenStream>>();
  private watch: KvWatch | undefined;

  async start(bus: Bus): Promise<void> {
    const kv = await bus.kv(QUARANTINE_BUCKET);
    this.watch = await kv.watch((change) => this.apply(change.key, change.value));
    await this.watch.ready;
  }

  apply(agentId: string, entry: QuarantineEntry | undefined): void {
    if (entry === undefined || !isBlocked(entry.state)) {
      this.blocked.delete(agentId);
      return;
    }
    this.blocked.set(agentId, entry);
    for (const stream of this.streams.get(agentId) ?? []) stream.kill(entry);
  }

  /** The quarantine that blocks this agent, if any. O(1): this runs on every request. */
  blockOf(agentId: string): QuarantineEntry | undefined {
    return this.blocked.get(agentId);
  }

  list(): QuarantineEntry[] {
    return [...this.blocked.values()];
  }

  /** Registers an open stream; returns the function that unregisters it. */
  track(agentId: string, stream: OpenStream): () => void {
    let set = this.streams.get(agentId);
    if (!set) {
      set = new Set();
      this.streams.set(agentId, set);
    }
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0) this.streams.delete(agentId);
    };
  }

  openStreams(agentId: string): number {
    return this.streams.get(agentId)?.size ?? 0;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
