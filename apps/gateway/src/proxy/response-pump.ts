import type { ServerResponse } from 'node:http';
import { type SseEvent, SseParser } from '../extract/sse.js';
import { lastEventBoundary } from './event-boundary.js';

export type EventDecision = 'forward' | 'drop' | { data: string };

export interface PumpResult {
  /** The client went away before the end. */
  clientAborted: boolean;
  /** The stream was ended by the gateway (`kill`). */
  killed: boolean;
  /** For non-streamed bodies: the whole body, when it fit the inspection limit. */
  body: Buffer | undefined;
  /** The upstream failed mid-body. */
  upstreamError: unknown;
}

function emptyResult(): PumpResult {
  return {
    clientAborted: false,
    killed: false,
    body: undefined,
    upstreamError: undefined,
  };
}

async function write(res: ServerResponse, chunk: Uint8Array | string): Promise<void> {
  if (res.write(chunk)) return;
  // Backpressure: a slow client slows the upstream read instead of growing memory.
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function serialise(event: SseEvent, data: string): string {
  return `${event.event !== undefined ? `event: ${event.event}\n` : ''}${event.id !== undefined ? `id: ${event.id}\n` : ''}data: ${data}\n\n`;
}

export interface SsePumpOptions {
  body: AsyncIterable<Uint8Array>;
  res: ServerResponse;
  onEvent: (event: SseEvent) => EventDecision | undefined;
  /** When true every event is re-framed (needed to drop or rewrite); otherwise the bytes pass untouched. */
  transform: boolean;
  /** Whether the gateway ended the stream itself (quarantine); `killEvent` is then the last event sent. */
  isKilled: () => boolean;
  killEvent: () => string;
}

/**
 * Forwards an SSE body event by event: each event leaves the moment its blank line arrives, never half an
 * event. A copy is parsed for usage. Untransformed streams are forwarded byte for byte.
 */
export async function pumpSse(options: SsePumpOptions): Promise<PumpResult> {
  const { res } = options;
  const parser = new SseParser();
  const result = emptyResult();
  let pending: Uint8Array = new Uint8Array(0);
  const emit = async (bytes: Uint8Array) => {
    const events = parser.push(bytes);
    if (!options.transform) {
      for (const event of events) options.onEvent(event);
      await write(res, bytes);
    } else {
      let out = '';
      for (const event of events) {
        const decision = options.onEvent(event) ?? 'forward';
        if (decision === 'drop') continue;
        out += serialise(event, decision === 'forward' ? event.data : decision.data);
      }
      if (out !== '') await write(res, out);
    }
  };
  try {
    for await (const chunk of options.body) {
      if (res.destroyed) {
        result.clientAborted = true;
        break;
      }
      const joined = pending.length === 0 ? chunk : concat(pending, chunk);
      const boundary = lastEventBoundary(joined);
      if (boundary === -1) {
        pending = joined;
        continue;
      }
      pending = joined.subarray(boundary);
      await emit(joined.subarray(0, boundary));
    }
    if (pending.length > 0 && !res.destroyed) {
      // An upstream that closes right after its last data line: deliver it as it came.
      for (const event of parser.push(pending)) options.onEvent(event);
      await write(res, pending);
    }
    for (const event of parser.end()) options.onEvent(event);
  } catch (error) {
    if (options.isKilled()) result.killed = true;
    else if (res.destroyed) result.clientAborted = true;
    else result.upstreamError = error;
  }
  if (result.killed && !res.destroyed) await write(res, options.killEvent());
  // A stream the provider broke off is broken for the client too, as it would be without the gateway; a
  // clean end would pass the cut answer off as complete.
  if (result.upstreamError !== undefined) res.destroy();
  else if (!res.destroyed) res.end();
  else if (!res.writableFinished) result.clientAborted = true;
  return result;
}

export interface BodyPumpOptions {
  body: AsyncIterable<Uint8Array>;
  res: ServerResponse;
  /** Bodies up to this size are kept for usage extraction; larger ones are forwarded without it. */
  inspectLimit: number;
}

/** Forwards a non-streamed body chunk by chunk as it arrives, keeping a copy for usage extraction. */
export async function pumpBody(options: BodyPumpOptions): Promise<PumpResult> {
  const { res } = options;
  const result = emptyResult();
  const kept: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of options.body) {
      if (res.destroyed) {
        result.clientAborted = true;
        break;
      }
      size += chunk.length;
      if (size <= options.inspectLimit) kept.push(chunk);
      await write(res, chunk);
    }
  } catch (error) {
    if (res.destroyed) result.clientAborted = true;
    else result.upstreamError = error;
  }
  // Half a JSON document is worse than none: a body the upstream broke off breaks the client's connection too.
  if (result.upstreamError !== undefined) res.destroy();
  else if (!res.destroyed) res.end();
  if (size <= options.inspectLimit && !result.clientAborted && result.upstreamError === undefined) {
    result.body = kept.length === 1 ? Buffer.from(kept[0]!) : Buffer.concat(kept);
  }
  return result;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
