interface Batch<T> {
  items: T[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Groups the items added within one turn of the event loop (or up to `maxItems`) into one write. A burst of
 * decisions, such as a thousand agents finishing their warm-up together, then costs a few statements instead
 * of a thousand round trips, and the checkpoint that waits for those effects is not held up by them. Each
 * `add` resolves or rejects with its batch.
 */
export class MicroBatcher<T> {
  private open: Batch<T> | undefined;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxItems = 500,
  ) {}

  add(item: T): Promise<void> {
    let batch = this.open;
    if (batch === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { items: [], done, resolve, reject };
      this.open = batch;
      const scheduled = batch;
      setImmediate(() => this.flush(scheduled));
    }
    batch.items.push(item);
    if (batch.items.length >= this.maxItems) this.flush(batch);
    return batch.done;
  }

  private flush(batch: Batch<T>): void {
    if (this.open !== batch) return;
    this.open = undefined;
    this.write(batch.items).then(batch.resolve, batch.reject);
  }
}
