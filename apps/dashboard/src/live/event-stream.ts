import type { BusStatus, EventEnvelope, QuarantineEntry } from '@immune/bus';
import type { FastifyReply } from 'fastify';
import type { LiveHub, LiveItem } from './live-hub.js';

export interface EventStreamOptions {
  /** At most one frame per this many ms (the first after a quiet spell goes out at once). */
  frameMs: number;
  heartbeatMs: number;
  /** The browser's reconnect delay, sent as `retry`. */
  retryMs: number;
  /** More events than this waiting for one frame: send `resync` instead, and the client refetches. */
  maxEventsPerFrame: number;
  /** A client this far behind (bytes not yet taken by its socket) is cut; it reconnects and refetches. */
  maxBufferedBytes: number;
  /** Ends the stream then (the session's expiry), epoch ms. */
  endsAt?: number;
  now: () => number;
}

/**
 * What an `update` frame carries: when the server sent it (epoch ms), the events since the last frame, and the
 * latest quarantine entry per agent.
 */
export interface UpdateFrame {
  ts: number;
  events: EventEnvelope[];
  quarantine: Record<string, QuarantineEntry | null>;
}

/**
 * One browser's Server-Sent Events stream: `hello` first, then `update` frames coalesced to at most one per
 * `frameMs`, `status` when the bus comes and goes, and a `heartbeat` when nothing else was sent for
 * `heartbeatMs`. Every frame has an id `<boot>.<seq>`.
 */
export class EventStream {
  private events: EventEnvelope[] = [];
  private quarantine = new Map<string, QuarantineEntry | null>();
  private overflow = false;
  private lastSeq: number;
  private lastFrameAt = 0;
  private frameTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly reply: FastifyReply,
    private readonly options: EventStreamOptions,
  ) {
    this.lastSeq = hub.sequence;
  }

  /** Takes over the response; resolves when the stream has ended (client gone, shutdown or session over). */
  run(signal: AbortSignal): Promise<void> {
    const raw = this.reply.raw;
    this.reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': this.reply.request.id,
    });
    raw.write(`retry: ${this.options.retryMs}\n`);
    this.write('hello', {
      boot: this.hub.boot,
      seq: this.lastSeq,
      ts: this.options.now(),
      bus: this.hub.status,
    });
    this.stopListening = this.hub.listen(
      (item) => this.take(item),
      (status) => this.sendStatus(status),
    );
    this.armHeartbeat();
    if (this.options.endsAt !== undefined) {
      const left = Math.max(0, this.options.endsAt - this.options.now());
      this.endTimer = setTimeout(
        () => {
          this.write('session', { expired: true });
          this.close();
        },
        Math.min(left, 2_147_483_647),
      );
    }
    return new Promise((resolve) => {
      const finish = () => {
        this.close();
        resolve();
      };
      raw.on('close', finish);
      if (signal.aborted) finish();
      else signal.addEventListener('abort', finish, { once: true });
    });
  }

  private take(item: LiveItem): void {
    this.lastSeq = item.seq;
    if (item.kind === 'event') {
      if (this.events.length >= this.options.maxEventsPerFrame) this.overflow = true;
      else this.events.push(item.event);
    } else this.quarantine.set(item.agent_id, item.entry);
    this.schedule();
  }

  private schedule(): void {
    if (this.frameTimer !== undefined || this.closed) return;
    const wait = Math.max(0, this.lastFrameAt + this.options.frameMs - this.options.now());
    // Even a first frame waits one turn, so a burst of events published together leaves as one frame.
    this.frameTimer = setTimeout(() => this.flush(), Math.max(wait, 10));
  }

  private flush(): void {
    this.frameTimer = undefined;
    if (this.closed) return;
    if (this.overflow) this.write('resync', { reason: 'too many changes at once; refetch' });
    else {
      const frame: UpdateFrame = {
        ts: this.options.now(),
        events: this.events,
        quarantine: Object.fromEntries(this.quarantine),
      };
      this.write('update', frame);
    }
    this.events = [];
    this.quarantine = new Map();
    this.overflow = false;
  }

  private sendStatus(status: BusStatus): void {
    this.write('status', { bus: status, ts: this.options.now() });
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      this.write('heartbeat', { ts: this.options.now(), bus: this.hub.status });
    }, this.options.heartbeatMs);
  }

  private write(event: string, data: unknown): void {
    if (this.closed) return;
    const raw = this.reply.raw;
    if (raw.writableLength > this.options.maxBufferedBytes) {
      this.close();
      return;
    }
    raw.write(`id: ${this.hub.boot}.${this.lastSeq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.lastFrameAt = this.options.now();
    this.armHeartbeat();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.frameTimer);
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.endTimer);
    this.stopListening?.();
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
  }
}
