import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { SseParser } from '../extract/sse.js';
import type { EventDecision, StreamEvent, StreamTap } from './adapters/types.js';
import { lastEventBoundary } from './event-boundary.js';

const NEWLINE = 10;

function serialise(event: StreamEvent, data: string): string {
  return `${event.event !== undefined ? `event: ${event.event}\n` : ''}${event.id !== undefined ? `id: ${event.id}\n` : ''}data: ${data}\n\n`;
}

/** Splits complete NDJSON lines (the last one may be unterminated at the end of the stream). */
function lines(bytes: Uint8Array, decoder: StringDecoder): StreamEvent[] {
  const text = decoder.write(bytes);
  const events: StreamEvent[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    const line = (end === -1 ? text.slice(start) : text.slice(start, end)).trim();
    if (line !== '') events.push({ event: undefined, data: line, id: undefined });
    if (end === -1) return events;
    start = end + 1;
  }
}

/**
 * Forwards a stream message by message: each SSE event (or NDJSON line) leaves the moment it is complete,
 * never half of one, so the gateway can end a stream cleanly at any moment. A copy is read by the adapter's
 * tap. Untransformed streams are forwarded byte for byte; transformed ones (usage hidden again) re-framed.
 */
export class StreamForwarder {
  private pending: Uint8Array | undefined;
  private readonly parser: SseParser | undefined;
  private readonly decoder: StringDecoder | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly framing: 'sse' | 'ndjson',
    private readonly tap: StreamTap,
    private readonly transform: boolean,
  ) {
    if (framing === 'sse') this.parser = new SseParser();
    else this.decoder = new StringDecoder('utf8');
  }

  /** Takes one upstream chunk; returns false when the client is slow and the upstream should pause. */
  push(chunk: Uint8Array): boolean {
    const joined = this.pending === undefined ? chunk : concat(this.pending, chunk);
    const boundary =
      this.framing === 'sse' ? lastEventBoundary(joined) : joined.lastIndexOf(NEWLINE) + 1 || -1;
    if (boundary === -1) {
      this.pending = joined;
      return true;
    }
    this.pending = boundary === joined.length ? undefined : joined.subarray(boundary);
    return this.emit(boundary === joined.length ? joined : joined.subarray(0, boundary));
  }

  /** The upstream ended: what is left (a last message without its terminator) is delivered as it came. */
  end(): void {
    const rest = this.pending;
    this.pending = undefined;
    if (rest !== undefined) for (const event of this.events(rest)) this.tap.onEvent(event);
    if (this.parser) for (const event of this.parser.end()) this.tap.onEvent(event);
    if (rest !== undefined && !this.res.destroyed) this.res.write(rest);
    if (!this.res.destroyed) this.res.end();
  }

  /** Ends the stream at the last complete message with a final one of the gateway's (e.g. a quarantine). */
  kill(finalMessage: string): void {
    this.pending = undefined;
    if (!this.res.destroyed) this.res.end(finalMessage);
  }

  private events(bytes: Uint8Array): StreamEvent[] {
    return this.parser ? this.parser.push(bytes) : lines(bytes, this.decoder!);
  }

  private emit(bytes: Uint8Array): boolean {
    const events = this.events(bytes);
    if (!this.transform) {
      for (const event of events) this.tap.onEvent(event);
      return this.res.write(bytes);
    }
    let out = '';
    for (const event of events) {
      const decision: EventDecision = this.tap.onEvent(event);
      if (decision === 'drop') continue;
      out += serialise(event, decision === 'forward' ? event.data : decision.data);
    }
    return out === '' ? true : this.res.write(out);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
