import { type Bus, GATEWAY_LIMITS_BUCKET, type KvBucket, type LimitCounter } from '@immune/bus';
import type { Logger } from '@immune/runtime';

export type LimitKind = 'rpm' | 'tpm' | 'budget';

/** One limit of one policy: `limit` units (requests or tokens) per fixed window of `windowMs`. */
export interface LimitKey {
  policy: string;
  kind: LimitKind;
  limit: number;
  windowMs: number;
}

/** How the policy engine counts limits: synchronous, so the request path never waits on the network. */
export interface LimitCounters {
  /** How much this replica may still spend in the current window; ≤ 0 means deny. */
  remaining(key: LimitKey, now: number): number;
  spend(key: LimitKey, amount: number, now: number): void;
}

/** The share of a limit one lease takes: small, because it bounds the overshoot (docs/gateway.md). */
export const LEASE_FRACTION = 0.02;

interface Share {
  /** KV key: policy, kind and window start. */
  key: string;
  windowStart: number;
  windowEnd: number;
  limit: number;
  chunk: number;
  /** Units leased from the fleet counter for this window. */
  leased: number;
  spent: number;
  leasing: boolean;
  /** After a failed lease (the bus is down), the next attempt waits until then. */
  retryAt: number;
  /** The fleet counter is spent for this window: nothing more to lease. */
  exhausted: boolean;
}

/**
 * Limits that hold across gateway replicas. Each policy limit has one fleet-wide counter per fixed window in
 * the `gateway_limits` KV bucket: how much of the limit replicas have leased. A replica leases a share
 * (`LEASE_FRACTION` of the limit) with a compare-and-set, spends it locally, and leases the next share in the
 * background before the current one runs out, so NATS is never on the request path. A replica may spend one
 * share on credit (cold start, a lease still on its way); when the counter is spent, credit is what the
 * fleet can overshoot: at most one share per replica, plus the tokens of calls admitted before the end and
 * still running. Shares expire with their window, so a lost replica's unspent share is lost to that window only;
 * a replica that stops cleanly gives its unspent share back.
 */
export class FleetLimits implements LimitCounters {
  private readonly shares = new Map<string, Share>();
  private unavailableSince: number | undefined;
  private bucket: KvBucket<LimitCounter> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly fraction = LEASE_FRACTION,
  ) {}

  async start(bus: Bus): Promise<void> {
    this.bucket = await bus.kv(GATEWAY_LIMITS_BUCKET);
  }

  private get kv(): KvBucket<LimitCounter> {
    if (!this.bucket) throw new Error('fleet limits are not started');
    return this.bucket;
  }

  remaining(key: LimitKey, now: number): number {
    const share = this.share(key, now);
    this.leaseIfLow(share, now);
    const credit = share.exhausted ? 0 : share.chunk;
    return share.leased + credit - share.spent;
  }

  spend(key: LimitKey, amount: number, now: number): void {
    if (amount <= 0) return;
    const share = this.share(key, now);
    share.spent += amount;
    this.leaseIfLow(share, now);
  }

  /** The next share is leased in the background once less than half a share is left. */
  private leaseIfLow(share: Share, now: number): void {
    if (share.exhausted || share.leasing || now < share.retryAt) return;
    if (share.leased - share.spent < share.chunk / 2) void this.lease(share);
  }

  /** Gives unspent shares back to their counters (clean shutdown), best effort. */
  async close(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.shares.values()]
        .filter((share) => share.windowEnd > now && share.leased > share.spent)
        .map((share) => this.giveBack(share).catch(() => undefined)),
    );
  }

  private share(key: LimitKey, now: number): Share {
    const id = `${key.policy}:${key.kind}`;
    let share = this.shares.get(id);
    if (share === undefined || now >= share.windowEnd || share.limit !== key.limit) {
      const windowStart = now - (now % key.windowMs);
      share = {
        key: `${key.policy}:${key.kind}:${windowStart}`,
        windowStart,
        windowEnd: windowStart + key.windowMs,
        limit: key.limit,
        chunk: Math.max(1, Math.ceil(key.limit * this.fraction)),
        leased: 0,
        spent: 0,
        leasing: false,
        retryAt: 0,
        exhausted: key.limit === 0,
      };
      this.shares.set(id, share);
    }
    return share;
  }

  private async lease(share: Share): Promise<void> {
    share.leasing = true;
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const entry = await this.kv.getEntry(share.key);
        const granted = entry?.value.granted ?? 0;
        // What was spent on credit is covered first, then one share ahead.
        const want = share.chunk + Math.max(0, share.spent - share.leased);
        const take = Math.min(want, share.limit - granted);
        if (take <= 0) {
          share.exhausted = true;
          return;
        }
        const counter = { granted: granted + take, limit: share.limit, window_start: share.windowStart };
        if ((await this.kv.compareAndSet(share.key, counter, entry?.revision ?? 0)) !== undefined) {
          share.leased += take;
          if (take < want) share.exhausted = true;
          this.available();
          return;
        }
      }
    } catch (error) {
      share.retryAt = Date.now() + 1_000;
      this.unavailable(error);
    } finally {
      share.leasing = false;
    }
  }

  private async giveBack(share: Share): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.kv.getEntry(share.key);
      if (!entry) return;
      const unspent = Math.min(share.leased - share.spent, entry.value.granted);
      const counter = { ...entry.value, granted: entry.value.granted - unspent };
      if ((await this.kv.compareAndSet(share.key, counter, entry.revision)) !== undefined) return;
    }
  }

  /** A dependency that goes away is logged once at warn, and once when back. */
  private unavailable(error: unknown): void {
    if (this.unavailableSince !== undefined) return;
    this.unavailableSince = Date.now();
    this.logger.warn(
      { err: error },
      'cannot lease limit shares from the bus: limits are spent from the shares already held, then refused',
    );
  }

  private available(): void {
    if (this.unavailableSince === undefined) return;
    this.logger.warn({ down_ms: Date.now() - this.unavailableSince }, 'leasing limit shares again');
    this.unavailableSince = undefined;
  }
}
