/**
 * Counts repeats of the same request hash within a window: an agent re-sending identical bytes is retrying,
 * whether its SDK does it after an error or its own loop does it after a bad answer. Memory is bounded: the
 * oldest entries go first when the table is full.
 */
export class RetryTracker {
  private readonly seen = new Map<string, { count: number; last: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxEntries = 100_000,
  ) {}

  /** Records one request and returns how many times it was seen before within the window. */
  observe(requestHash: string, now: number): number {
    const entry = this.seen.get(requestHash);
    let retries = 0;
    if (entry && now - entry.last <= this.windowMs) retries = entry.count;
    this.seen.delete(requestHash);
    this.seen.set(requestHash, { count: retries + 1, last: now });
    this.evict(now);
    return retries;
  }

  private evict(now: number): void {
    for (const [hash, entry] of this.seen) {
      if (this.seen.size <= this.maxEntries && now - entry.last <= this.windowMs) break;
      this.seen.delete(hash);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
