import type { QuarantineEntry } from '@immune/bus';
import type { Mutations } from '../policy/policy-engine.js';

/** What soft containment makes of one call: served (clamped to `maxTokens`), or refused by the throttle. */
export type SoftVerdict =
  | { ok: true; entry: QuarantineEntry; maxTokens: number | undefined }
  | { ok: false; entry: QuarantineEntry; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The softly contained agents this replica knows of (entries with `containment: 'soft'`): a SUSPECTED agent of
 * a severe anomaly is still served, but each call's output limit is clamped to the entry's `max_tokens` and its
 * calls are throttled to `calls_per_minute` (a token bucket per agent, per replica, starting full). Entries
 * come and go with the quarantine bucket's watch; a new entry starts a fresh bucket.
 */
export class SoftContainments {
  private readonly entries = new Map<string, { entry: QuarantineEntry; bucket: Bucket | undefined }>();

  set(agentId: string, entry: QuarantineEntry): void {
    this.entries.set(agentId, { entry, bucket: undefined });
  }

  delete(agentId: string): void {
    this.entries.delete(agentId);
  }

  get size(): number {
    return this.entries.size;
  }

  entryOf(agentId: string): QuarantineEntry | undefined {
    return this.entries.get(agentId)?.entry;
  }

  /** Judges one call of the agent at `now` (ms) and spends its share of the throttle. O(1). */
  admit(agentId: string, now: number): SoftVerdict | undefined {
    const held = this.entries.get(agentId);
    if (held === undefined) return undefined;
    const { entry } = held;
    const perMinute = entry.calls_per_minute;
    if (perMinute !== undefined) {
      const bucket = held.bucket ?? { tokens: Math.max(1, perMinute), at: now };
      bucket.tokens = Math.min(
        Math.max(1, perMinute),
        bucket.tokens + ((now - bucket.at) * perMinute) / 60_000,
      );
      bucket.at = now;
      held.bucket = bucket;
      if (bucket.tokens < 1) {
        const waitMs = ((1 - bucket.tokens) * 60_000) / perMinute;
        return { ok: false, entry, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      }
      bucket.tokens -= 1;
    }
    return { ok: true, entry, maxTokens: entry.max_tokens };
  }
}

/** The policy's mutations with the output limit clamped to `maxTokens` as well (the lower limit wins). */
export function clampMutations(mutations: Mutations, maxTokens: number | undefined): Mutations {
  if (maxTokens === undefined) return mutations;
  if (mutations.maxTokens !== undefined && mutations.maxTokens <= maxTokens) return mutations;
  return { ...mutations, maxTokens };
}
