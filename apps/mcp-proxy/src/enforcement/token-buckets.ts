interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-key "n per minute" limits as token buckets: a key starts full (n calls at once), refills at n per minute.
 * O(1) per call; the least recently used key is forgotten past `maxKeys` (it then starts full again).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxKeys = 100_000) {}

  /** Whether one call fits now. */
  available(key: string, perMinute: number, now: number): boolean {
    if (perMinute <= 0) return false;
    return this.refill(key, perMinute, now).tokens >= 1;
  }

  /** Spends one call (callers check `available` first). */
  take(key: string, perMinute: number, now: number): void {
    const bucket = this.refill(key, perMinute, now);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }

  private refill(key: string, perMinute: number, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: perMinute, at: now };
    } else {
      this.buckets.delete(key);
      bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
      bucket.at = now;
    }
    this.buckets.set(key, bucket);
    return bucket;
  }
}
