import type { Vital } from '@immune/core';

/** Where the publisher sends its batches: the bus (`Bus.publishVitals`). */
export interface VitalSink {
  publishVitals(vitals: readonly Vital[]): Promise<void>;
}

export interface VitalPublisherOptions {
  /** Vitals kept while the bus is unreachable; beyond this the oldest are dropped and counted. */
  capacity: number;
  /** How often a non-empty buffer retries, ms. */
  retryMs: number;
  /**
   * How long a vital may wait for others before a flush, ms. Publishes sent in the same tick share one socket
   * write and their acks one read; per-vital flushing cost the gateway a syscall pair per request.
   */
  lingerMs?: number;
  onDropped?: (count: number) => void;
  onError?: (error: unknown) => void;
}

export const DEFAULT_PUBLISHER_OPTIONS: VitalPublisherOptions = {
  capacity: 50_000,
  retryMs: 250,
  lingerMs: 5,
};

/** Vitals published (pipelined, one wait for their acks) in one flush round. */
const BATCH = 256;

/**
 * Publishes vitals off the request path. `submit` never waits and never throws, so the client's response is
 * never delayed or failed by the bus. While the bus is down, vitals wait in a bounded ring buffer in arrival
 * order and are flushed when it returns; overflow drops the oldest and is reported, never silent. Every service
 * that observes calls on their way (the gateway, the MCP proxy) publishes through one.
 */
export class VitalPublisher {
  private readonly buffer: Vital[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private published = 0;
  private closed = false;

  constructor(
    private readonly sink: VitalSink,
    private readonly options: VitalPublisherOptions = DEFAULT_PUBLISHER_OPTIONS,
  ) {}

  get stats(): { buffered: number; dropped: number; published: number } {
    return { buffered: this.buffer.length, dropped: this.dropped, published: this.published };
  }

  submit(vital: Vital): void {
    if (this.buffer.length >= this.options.capacity) {
      this.buffer.shift();
      this.dropped++;
      this.options.onDropped?.(1);
    }
    this.buffer.push(vital);
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0 && this.buffer.length < BATCH && !this.flushing) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, linger);
      this.timer.unref();
      return;
    }
    this.kick();
  }

  private kick(): void {
    if (this.flushing || this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.buffer.length > 0 && !this.closed) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.options.retryMs);
        this.timer.unref();
      }
    });
  }

  /** Sends in order; stops at the first failed batch and leaves it for the next attempt. */
  private async flush(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, BATCH);
      try {
        await this.sink.publishVitals(batch);
      } catch (error) {
        // Part of the batch may be on the bus already; sending it again is harmless because the bus dedupes
        // on the vital id.
        this.options.onError?.(error);
        return;
      }
      this.buffer.splice(0, batch.length);
      this.published += batch.length;
    }
  }

  /** Flushes what it can within `timeoutMs` (shutdown), then stops retrying. */
  async close(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      this.kick();
      await this.flushing;
      if (this.buffer.length > 0)
        await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.retryMs, 100)));
    }
    this.closed = true;
    clearTimeout(this.timer);
    await this.flushing;
  }
}
