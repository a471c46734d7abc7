import { StringDecoder } from 'node:string_decoder';

/** One server-sent event, as the spec defines it (https://html.spec.whatwg.org/#server-sent-events). */
export interface SseEvent {
  event: string | undefined;
  data: string;
  id: string | undefined;
}

/**
 * An incremental SSE parser for the gateway's tap on a stream. Bytes are forwarded to the client untouched
 * elsewhere; this only reads a copy, so it can be fed chunks split anywhere (mid-line, mid-UTF-8 character)
 * and handles LF, CRLF and CR line ends, comments, and multi-line data.
 */
export class SseParser {
  // Not TextDecoder: with `stream: true` it goes through ICU, several times slower than StringDecoder here.
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  /** The event's data lines so far, joined with LF; undefined until its first data line. */
  private data: string | undefined;
  private event: string | undefined;
  private id: string | undefined;
  private pendingCr = false;

  /** Feeds bytes; returns the events they completed. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    // A CR at the end of the previous chunk may be the first half of CRLF.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    const buffer = this.buffer === '' ? text : this.buffer + text;
    const events: SseEvent[] = [];
    let start = 0;
    if (buffer.indexOf('\r') === -1) {
      // LF only, as every provider sends: find line ends with indexOf instead of a loop over characters.
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n', start)) {
        this.line(buffer, start, end, events);
        start = end + 1;
      }
    } else {
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer.charCodeAt(i);
        if (char !== 10 && char !== 13) continue;
        this.line(buffer, start, i, events);
        if (char === 13 && buffer.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
    }
    this.buffer = start === 0 ? buffer : buffer.slice(start);
    return events;
  }

  /** Ends the stream: a final event without its blank line is still delivered, as browsers do not, but
   * upstreams that close right after the last data line deserve it. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.buffer.length > 0) this.line(this.buffer, 0, this.buffer.length, events);
    this.buffer = '';
    this.dispatch(events);
    return events;
  }

  /** The line `text[start, end)`, read in place: only the field's value is copied out. */
  private line(text: string, start: number, end: number, events: SseEvent[]): void {
    if (start === end) {
      this.dispatch(events);
      return;
    }
    if (text.charCodeAt(start) === COLON) return;
    const colon = text.indexOf(':', start);
    const fieldEnd = colon === -1 || colon > end ? end : colon;
    let valueStart = fieldEnd === end ? end : fieldEnd + 1;
    if (valueStart < end && text.charCodeAt(valueStart) === SPACE) valueStart++;
    const field = fieldEnd - start;
    if (field === 4 && text.startsWith('data', start)) {
      const value = text.slice(valueStart, end);
      this.data = this.data === undefined ? value : `${this.data}\n${value}`;
    } else if (field === 5 && text.startsWith('event', start)) this.event = text.slice(valueStart, end);
    else if (field === 2 && text.startsWith('id', start)) this.id = text.slice(valueStart, end);
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data !== undefined) events.push({ event: this.event, data: this.data, id: this.id });
    this.data = undefined;
    this.event = undefined;
  }
}

const COLON = 58;
const SPACE = 32;
