/**
 * A small in-process stand-in for a JetStream stream with limits retention: sequence numbers, a dedupe window
 * on message id, max age and max count, and durable consumers with explicit ack, nak with delay, term,
 * ack-wait redelivery and max deliveries. Payloads are stored as JSON text so that consumers always get a
 * fresh copy, exactly as over the wire.
 */

interface Stored {
  seq: number;
  subject: string;
  storedAt: number;
  json: string;
}

export interface StreamLimits {
  maxAgeMs: number;
  maxMessages: number;
  duplicateWindowMs: number;
}

export interface MemoryDelivery {
  seq: number;
  subject: string;
  json: string;
  deliveryCount: number;
  redelivered: boolean;
  ack(): void;
  nak(delayMs?: number): void;
  term(): void;
  /** Still being handled: restarts the ack wait, like JetStream's in-progress ack. */
  working(): void;
}

export interface ConsumerConfig {
  filter: (subject: string) => boolean;
  ackWaitMs: number;
  maxDeliver: number;
  /** Start at the first retained message, or only at messages appended after creation. */
  deliverFrom: 'all' | 'new';
  /** Ephemeral consumers need no acks and are never redelivered to. */
  ackRequired: boolean;
}

export class MemoryStream {
  private readonly messages: Stored[] = [];
  private firstSeq = 1;
  private lastSeq = 0;
  private readonly recentIds = new Map<string, number>();
  private readonly consumers = new Map<string, MemoryConsumer>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly limits: StreamLimits) {}

  /** Appends unless the id was seen within the duplicate window; returns whether it was stored. */
  append(subject: string, id: string, json: string, now = Date.now()): boolean {
    this.expire(now);
    if (this.recentIds.has(id)) return false;
    this.recentIds.set(id, now);
    this.lastSeq++;
    this.messages.push({ seq: this.lastSeq, subject, storedAt: now, json });
    for (const notify of this.listeners) notify();
    return true;
  }

  private expire(now: number): void {
    for (const [id, at] of this.recentIds) {
      if (now - at < this.limits.duplicateWindowMs) break;
      this.recentIds.delete(id);
    }
    let drop = 0;
    while (
      drop < this.messages.length &&
      (this.messages.length - drop > this.limits.maxMessages ||
        now - this.messages[drop]!.storedAt > this.limits.maxAgeMs)
    ) {
      drop++;
    }
    if (drop > 0) {
      this.messages.splice(0, drop);
      this.firstSeq += drop;
    }
  }

  get(seq: number): Stored | undefined {
    return seq >= this.firstSeq ? this.messages[seq - this.firstSeq] : undefined;
  }

  get first(): number {
    return this.firstSeq;
  }

  get last(): number {
    return this.lastSeq;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The durable consumer of that name if one was created. */
  existingConsumer(name: string): MemoryConsumer | undefined {
    return this.consumers.get(name);
  }

  /** The durable consumer of that name, created on first use; an unnamed consumer is ephemeral. */
  consumer(name: string | undefined, config: ConsumerConfig): MemoryConsumer {
    if (name === undefined) return new MemoryConsumer(this, config);
    let consumer = this.consumers.get(name);
    if (!consumer) {
      consumer = new MemoryConsumer(this, config);
      this.consumers.set(name, consumer);
    } else {
      consumer.reconfigure(config);
    }
    return consumer;
  }
}

export class MemoryConsumer {
  private cursor: number;
  private readonly pending = new Map<number, { count: number; timer: NodeJS.Timeout | undefined }>();
  private readonly due: number[] = [];
  private readonly counts = new Map<number, number>();
  private waiter: (() => void) | undefined;
  private readonly unlisten: () => void;

  constructor(
    private readonly stream: MemoryStream,
    private config: ConsumerConfig,
  ) {
    this.cursor = config.deliverFrom === 'all' ? stream.first : stream.last + 1;
    this.unlisten = stream.onAppend(() => this.wake());
  }

  reconfigure(config: ConsumerConfig): void {
    this.config = { ...config, filter: this.config.filter };
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** The next message to deliver, waiting for one; resolves undefined when `signal` aborts. */
  async next(signal: AbortSignal): Promise<MemoryDelivery | undefined> {
    while (!signal.aborted) {
      const delivery = this.take();
      if (delivery) return delivery;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiter = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return undefined;
  }

  /** Messages not handed out yet (new ones matching the filter, plus redeliveries due) and those awaiting an ack. */
  lag(): { pending: number; ackPending: number } {
    let pending = this.due.length;
    for (let seq = Math.max(this.cursor, this.stream.first); seq <= this.stream.last; seq++) {
      const stored = this.stream.get(seq);
      if (stored && this.config.filter(stored.subject)) pending++;
    }
    return { pending, ackPending: this.pending.size };
  }

  /** Called when a subscription stops: unacked messages become due at once for the next subscriber. */
  detach(): void {
    for (const [seq, entry] of this.pending) {
      clearTimeout(entry.timer);
      this.due.push(seq);
    }
    this.pending.clear();
    this.due.sort((a, b) => a - b);
    this.wake();
  }

  close(): void {
    this.detach();
    this.unlisten();
  }

  private take(): MemoryDelivery | undefined {
    while (this.due.length > 0) {
      const seq = this.due.shift()!;
      const stored = this.stream.get(seq);
      if (stored) return this.deliver(seq, stored.subject, stored.json);
      this.counts.delete(seq);
    }
    this.cursor = Math.max(this.cursor, this.stream.first);
    while (this.cursor <= this.stream.last) {
      const seq = this.cursor++;
      const stored = this.stream.get(seq);
      if (stored && this.config.filter(stored.subject)) return this.deliver(seq, stored.subject, stored.json);
    }
    return undefined;
  }

  private deliver(seq: number, subject: string, json: string): MemoryDelivery {
    const count = (this.counts.get(seq) ?? 0) + 1;
    let settled = false;
    const finish = () => {
      settled = true;
      const entry = this.pending.get(seq);
      if (entry) clearTimeout(entry.timer);
      this.pending.delete(seq);
    };
    const redeliver = (delayMs: number) => {
      if (count >= this.config.maxDeliver) {
        this.counts.delete(seq);
        return;
      }
      const schedule = () => {
        this.due.push(seq);
        this.due.sort((a, b) => a - b);
        this.wake();
      };
      if (delayMs > 0) setTimeout(schedule, delayMs).unref();
      else schedule();
    };
    const arm = () => {
      const timer = setTimeout(() => {
        if (settled) return;
        this.pending.delete(seq);
        redeliver(0);
      }, this.config.ackWaitMs);
      timer.unref();
      this.pending.set(seq, { count, timer });
    };
    if (this.config.ackRequired) {
      this.counts.set(seq, count);
      arm();
    }
    return {
      seq,
      subject,
      json,
      deliveryCount: count,
      redelivered: count > 1,
      ack: () => {
        if (settled) return;
        finish();
        this.counts.delete(seq);
      },
      nak: (delayMs = 0) => {
        if (settled || !this.config.ackRequired) return;
        finish();
        redeliver(delayMs);
      },
      term: () => {
        if (settled) return;
        finish();
        this.counts.delete(seq);
      },
      working: () => {
        if (settled || !this.config.ackRequired) return;
        const entry = this.pending.get(seq);
        if (entry) clearTimeout(entry.timer);
        arm();
      },
    };
  }
}
