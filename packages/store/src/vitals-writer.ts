import type { Vital } from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { Db } from './database.js';
import { insertVitals, unstorableReason } from './repositories/vitals.js';

/** Writes one batch atomically and returns how many rows were new. */
export type VitalsInserter = (db: Db, vitals: readonly Vital[]) => Promise<number>;

export interface VitalsWriterOptions {
  /** A batch is written as soon as it holds this many vitals. Default 2000. */
  batchSize?: number;
  /** ...or when its first vital has waited this long, ms. Default 200. */
  flushIntervalMs?: number;
  /**
   * The most vitals the writer holds (filling, queued and being written). Beyond it `add` waits for room.
   * Default (concurrency + 2) × batchSize: every writing slot busy, one batch filling and one ready.
   */
  maxPending?: number;
  /**
   * Batches written at the same time, each on its own connection. Default 4: PostgreSQL spends most of a
   * batch on index maintenance for one backend, so parallel batches use more of the server (bench).
   */
  concurrency?: number;
  logger?: Logger;
  /** How a batch is written; default `insertVitals`. Tests replace it to control timing and failures. */
  insert?: VitalsInserter;
}

export const DEFAULT_WRITER_BATCH_SIZE = 2000;
export const DEFAULT_WRITER_FLUSH_INTERVAL_MS = 200;
export const DEFAULT_WRITER_CONCURRENCY = 4;

export interface VitalsWriterStats {
  /** Vitals committed as new rows. */
  written: number;
  /** Vitals committed that were already stored (redeliveries). */
  duplicates: number;
  /** Vitals whose batch failed; their `add` promises rejected. */
  failed: number;
  batches: number;
  failedBatches: number;
  /** Vitals held by the writer now. */
  pending: number;
  /** `add` calls waiting for room. */
  waiting: number;
}

export class WriterClosedError extends Error {
  override readonly name = 'WriterClosedError';
  constructor() {
    super('vitals writer: closed, no more vitals accepted');
  }
}

/** A vital the database cannot hold (see `unstorableReason`); retrying it will never succeed. */
export class UnstorableVitalError extends Error {
  override readonly name = 'UnstorableVitalError';
  constructor(
    readonly vitalId: unknown,
    readonly reason: string,
  ) {
    super(`vitals writer: vital ${String(vitalId)} cannot be stored: ${reason}`);
  }
}

interface Batch {
  readonly vitals: Vital[];
  /** Shared by every vital of the batch: one promise per batch, not per vital, keeps `add` cheap. */
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function createBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failure is logged and reaches every caller that awaits; a caller that dropped its promise must not
  // turn a database hiccup into an unhandled rejection that ends the process.
  done.catch(() => {});
  return { vitals: [], done, resolve, reject };
}

interface Waiter {
  readonly vital: Vital;
  readonly settled: Promise<void>;
  resolve(commit: Promise<void>): void;
}

/** A queue with O(1) removal at the head: under backpressure thousands of callers may wait. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!;
  }
}

/**
 * Batches vitals into multi-row inserts. `add` resolves only once the vital's batch is committed, so a bus
 * consumer acks after the commit and a crash loses nothing that was acked; it rejects when the batch fails,
 * and since a batch is one statement nothing of it was written, so not acking (and letting the bus redeliver)
 * is exactly right. Redelivered vitals are deduplicated by the table's (id, ts) key.
 *
 * Memory is bounded by `maxPending`: when the writer is full, `add` queues the caller instead of buffering,
 * so a consumer that awaits (or caps its unacked messages) slows down to the database's pace.
 */
export class VitalsWriter {
  readonly #db: Db;
  readonly #insert: VitalsInserter;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxPending: number;
  readonly #concurrency: number;
  readonly #logger: Logger | undefined;

  #open: Batch | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #sealed: Batch[] = [];
  readonly #inFlight = new Set<Batch>();
  readonly #waiting = new Fifo<Waiter>();
  #pending = 0;
  #flushing = 0;
  #closed = false;
  readonly #stats = { written: 0, duplicates: 0, failed: 0, batches: 0, failedBatches: 0 };

  constructor(db: Db, options: VitalsWriterOptions = {}) {
    this.#db = db;
    this.#insert = options.insert ?? insertVitals;
    this.#batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_WRITER_BATCH_SIZE);
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULT_WRITER_FLUSH_INTERVAL_MS;
    if (!(this.#flushIntervalMs >= 0)) throw new RangeError('vitals writer: flushIntervalMs must be >= 0');
    this.#concurrency = positiveInteger('concurrency', options.concurrency ?? DEFAULT_WRITER_CONCURRENCY);
    this.#maxPending = positiveInteger(
      'maxPending',
      options.maxPending ?? (this.#concurrency + 2) * this.#batchSize,
    );
    if (this.#maxPending < this.#batchSize) {
      throw new RangeError('vitals writer: maxPending must be at least batchSize');
    }
    this.#logger = options.logger;
  }

  /**
   * Resolves when the vital is committed. Rejects when its batch failed, when the writer is closed, and at
   * once with `UnstorableVitalError` for a vital the database would refuse (the caller should drop it, not
   * retry it).
   */
  add(vital: Vital): Promise<void> {
    if (this.#closed) return rejected(new WriterClosedError());
    const problem = unstorableReason(vital);
    if (problem !== undefined) {
      this.#logger?.warn({ vital_id: vital.id, reason: problem }, 'vitals writer: unstorable vital refused');
      return rejected(new UnstorableVitalError(vital.id, problem));
    }
    // Earlier waiters go first, or a steady stream of new calls could starve them.
    if (this.#pending < this.#maxPending && this.#waiting.length === 0) return this.#enqueue(vital);
    let resolve!: (commit: Promise<void>) => void;
    const settled = new Promise<void>((res) => {
      resolve = res;
    });
    settled.catch(() => {}); // as in createBatch: a dropped promise must not end the process
    this.#waiting.push({ vital, settled, resolve });
    return settled;
  }

  /** `add` for several vitals: resolves when all are committed, rejects if any batch failed. */
  async addMany(vitals: Iterable<Vital>): Promise<void> {
    const commits: Promise<void>[] = [];
    for (const vital of vitals) commits.push(this.add(vital));
    await Promise.all(commits);
  }

  /**
   * Writes everything added so far without waiting for the timer and resolves when it has all settled.
   * Batch failures are not rethrown here: they belong to the callers of `add`.
   */
  async flush(): Promise<void> {
    const outstanding: Promise<void>[] = [...this.#inFlight, ...this.#sealed].map((batch) => batch.done);
    if (this.#open !== undefined) outstanding.push(this.#open.done);
    for (const waiter of this.#waiting) outstanding.push(waiter.settled);
    if (outstanding.length === 0) return;
    this.#flushing++;
    try {
      this.#sealOpen();
      await Promise.allSettled(outstanding);
    } finally {
      this.#flushing--;
    }
  }

  /** Refuses further vitals and writes the rest. Does not close the store. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  get stats(): VitalsWriterStats {
    return { ...this.#stats, pending: this.#pending, waiting: this.#waiting.length };
  }

  #enqueue(vital: Vital): Promise<void> {
    let batch = this.#open;
    if (batch === undefined) {
      batch = createBatch();
      this.#open = batch;
      this.#timer = setTimeout(() => this.#sealOpen(), this.#flushIntervalMs);
    }
    batch.vitals.push(vital);
    this.#pending++;
    if (batch.vitals.length >= this.#batchSize) this.#sealOpen();
    return batch.done;
  }

  #sealOpen(): void {
    const batch = this.#open;
    if (batch === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#open = undefined;
    this.#sealed.push(batch);
    this.#startWrites();
  }

  #startWrites(): void {
    while (this.#inFlight.size < this.#concurrency) {
      const batch = this.#sealed.shift();
      if (batch === undefined) return;
      this.#inFlight.add(batch);
      void this.#write(batch);
    }
  }

  async #write(batch: Batch): Promise<void> {
    const size = batch.vitals.length;
    try {
      const inserted = await this.#insert(this.#db, batch.vitals);
      this.#stats.batches++;
      this.#stats.written += inserted;
      this.#stats.duplicates += size - inserted;
      batch.resolve();
    } catch (error) {
      this.#stats.failedBatches++;
      this.#stats.failed += size;
      this.#logger?.error(
        { err: error, vitals: size },
        'vitals writer: batch failed, its vitals were not written',
      );
      batch.reject(error);
    } finally {
      this.#inFlight.delete(batch);
      this.#pending -= size;
      this.#admitWaiting();
      this.#startWrites();
    }
  }

  #admitWaiting(): void {
    while (this.#pending < this.#maxPending) {
      const waiter = this.#waiting.shift();
      if (waiter === undefined) break;
      waiter.resolve(this.#enqueue(waiter.vital));
    }
    // During a flush the timer must not hold back vitals that were waiting for room.
    if (this.#flushing > 0) this.#sealOpen();
  }
}

/** A rejection that reaches whoever awaits it but, like batch failures, never ends the process if dropped. */
function rejected(error: Error): Promise<void> {
  const promise = Promise.reject(error);
  promise.catch(() => {});
  return promise;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`vitals writer: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
