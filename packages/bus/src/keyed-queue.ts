/**
 * Runs async tasks with a global concurrency limit while keeping tasks of the same key in submission order,
 * never concurrently. Consumers use it so that one agent's vitals are handled in stream order while many
 * agents are handled in parallel, and so that at most `limit` messages are unacked at once.
 *
 * A slot is reserved with `acquire()` *before* a message is taken from the broker, then spent by `run()` (or
 * handed back with `release()`), so several pulling loops can never overshoot the limit together.
 */
export class KeyedQueue {
  private reserved = 0;
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('KeyedQueue: limit must be at least 1');
  }

  /** Slots reserved or running. */
  get inFlight(): number {
    return this.reserved;
  }

  /** Reserves a slot, waiting until one is free. */
  async acquire(): Promise<void> {
    if (this.reserved < this.limit) {
      this.reserved++;
      return;
    }
    // The releasing side hands its slot over directly, so the count never drops and rises again in between.
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Gives back a reserved slot that was not used. */
  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next();
      return;
    }
    this.reserved--;
    if (this.reserved === 0) for (const idle of this.idleWaiters.splice(0)) idle();
  }

  /** Spends a reserved slot on `task`, which runs after earlier tasks of the same key. */
  run(key: string, task: () => Promise<void>): void {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const done = previous
      .then(task, task)
      .catch(() => undefined)
      .finally(() => {
        if (this.tails.get(key) === done) this.tails.delete(key);
        this.release();
      });
    this.tails.set(key, done);
  }

  /** Resolves when nothing is reserved or running. */
  async idle(): Promise<void> {
    if (this.reserved === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
