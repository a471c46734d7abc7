/**
 * What a durable consumer looked like when this instance took it over: the last stream sequence handed to
 * anyone, and how many of those deliveries nobody acked (a previous instance that crashed holding them).
 */
export interface TakeOver {
  deliveredSeq: number;
  ackPending: number;
}

/**
 * Keeps a taken-over partition in stream order. The vitals a crashed instance held unacked come back only when
 * their ack wait expires; JetStream meanwhile hands out newer messages, so the new instance would judge an
 * agent's later vitals before its earlier ones. Until every message up to `deliveredSeq` that was pending has
 * come back (or is acked or terminated: the floor check, for a previous owner still alive), newer messages are
 * held here, kept alive with in-progress acks, and released in arrival order after the recovered ones.
 */
export class InOrderRecovery<M> {
  private readonly seen = new Set<number>();
  private held: M[] = [];
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private release: (held: readonly M[]) => void = () => undefined;

  constructor(
    private readonly start: TakeOver,
    private readonly keepAlive: (message: M) => void,
    private readonly keepAliveMs: number,
  ) {
    if (start.ackPending <= 0) this.done = true;
    else this.arm();
  }

  /** Where the held messages go when the recovery closes (the consumer's dispatch, set before it pulls). */
  onRelease(release: (held: readonly M[]) => void): void {
    this.release = release;
  }

  get recovering(): boolean {
    return !this.done;
  }

  /**
   * True when `message` must wait (it is newer than the take-over while recovery is open); otherwise the
   * caller dispatches it, and a recovered sequence may close the recovery (which releases what was held).
   */
  hold(seq: number, message: M): boolean {
    if (this.done) return false;
    if (seq > this.start.deliveredSeq) {
      this.held.push(message);
      return true;
    }
    this.seen.add(seq);
    if (this.seen.size >= this.start.ackPending) queueMicrotask(() => this.finish());
    return false;
  }

  /** The consumer's ack floor reached the take-over point: nothing older can come back any more. */
  floorReached(ackFloorSeq: number): void {
    if (ackFloorSeq >= this.start.deliveredSeq) this.finish();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.stop();
    const held = this.held;
    this.held = [];
    this.release(held);
  }

  /** Stops the keep-alive; held messages are left unacked and come back to whoever consumes next. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      for (const message of this.held) this.keepAlive(message);
      if (!this.done) this.arm();
    }, this.keepAliveMs);
    this.timer.unref();
  }
}
