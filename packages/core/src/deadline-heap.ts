/**
 * A binary min-heap of (deadline, agent) pairs: when `AgentTriage.tick` next has work, in O(log n) per armed
 * deadline. Entries are never removed early; a caller skips the ones it has since re-armed when they pop.
 */
export class DeadlineHeap {
  private readonly entries: DeadlineEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** The earliest deadline, or undefined when empty. */
  peek(): number | undefined {
    return this.entries.length > 0 ? this.entries[0]!.at : undefined;
  }

  push(at: number, agentId: string): void {
    const heap = this.entries;
    const entry = { at, agentId };
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  /** Removes and returns the earliest entry; only call it when `size > 0`. */
  pop(): DeadlineEntry {
    const heap = this.entries;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = i * 2 + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
        if (heap[child]!.at >= last.at) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

export interface DeadlineEntry {
  at: number;
  agentId: string;
}
