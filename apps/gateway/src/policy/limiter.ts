/**
 * Sliding-window counters per key (approximated with two fixed buckets, the usual trick: the previous
 * bucket is weighted by how much of it still overlaps the window). O(1) per check, bounded memory.
 * Counters are per gateway replica; with N replicas the fleet-wide limit is up to N times the configured
 * one, which the docs state.
 */
export class SlidingWindowCounter {
  private readonly buckets = new Map<string, { start: number; current: number; previous: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 200_000,
  ) {}

  /** The amount counted in the window ending now. */
  total(key: string, now: number): number {
    const bucket = this.roll(key, now);
    if (!bucket) return 0;
    const overlap = 1 - (now - bucket.start) / this.windowMs;
    return bucket.current + bucket.previous * Math.max(0, overlap);
  }

  add(key: string, amount: number, now: number): void {
    let bucket = this.roll(key, now);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.evictOldest();
      bucket = { start: now - (now % this.windowMs), current: 0, previous: 0 };
      this.buckets.set(key, bucket);
    }
    bucket.current += amount;
  }

  private roll(key: string, now: number) {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const elapsed = now - bucket.start;
    if (elapsed >= 2 * this.windowMs) {
      bucket.previous = 0;
      bucket.current = 0;
      bucket.start = now - (now % this.windowMs);
    } else if (elapsed >= this.windowMs) {
      bucket.previous = bucket.current;
      bucket.current = 0;
      bucket.start += this.windowMs;
    }
    return bucket;
  }

  private evictOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
