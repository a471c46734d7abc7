/**
 * Counts repeats of the same request hash within a window: an agent re-sending identical bytes is retrying,
 * whether its SDK does it after an error or its own loop does it after a bad answer. Memory is bounded: the
 * oldest entries go first when the table is full.
 */
export class RetryTracker {
  private readonly seen = new Map<string, { count: number; last: number }>();
  private sweptAt = 0;
  private readonly sweepEveryMs = 1_000;

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
    if (this.seen.size > this.maxEntries || now - this.sweptAt >= this.sweepEveryMs) this.evict(now);
    return retries;
  }

  /**
   * Drops expired entries (and the oldest beyond the bound) in one pass, at most once per `sweepEveryMs`:
   * deleting a Map's first key on every call is not O(1) in V8, whose deleted slots stay at the front until the
   * table is rebuilt.
   */
  private evict(now: number): void {
    this.sweptAt = now;
    // Over the bound, a tenth goes at once, so the next sweep is thousands of requests away.
    const keep = this.seen.size > this.maxEntries ? Math.floor(this.maxEntries * 0.9) : this.maxEntries;
    for (const [hash, entry] of this.seen) {
      if (this.seen.size <= keep && now - entry.last <= this.windowMs) break;
      this.seen.delete(hash);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
