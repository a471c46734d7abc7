import { connect } from 'node:net';

/** Where a raw exchange connects. */
export interface RawTarget {
  host: string;
  port: number;
}

/** Bytes to write, or a pause: how a slow client (slowloris) behaves. */
export type RawStep = string | Buffer | { pauseMs: number };

export interface RawResponse {
  statusCode: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every complete response, in order (pipelined requests get several). */
  responses: RawResponse[];
  /** The server closed the connection (or reset it) before the exchange ended. */
  closed: boolean;
  /** Neither a close nor the expected responses came within `timeoutMs`: a hang. */
  timedOut: boolean;
  /** Bytes that did not parse as a complete response (a response cut short, or not HTTP at all). */
  leftover: string;
}

export interface RawExchangeOptions {
  /** Stop once this many responses arrived; otherwise wait for the server to close. */
  responses?: number;
  /** Half-close the connection after the last step, like a client that is done sending. */
  endAfterWrite?: boolean;
  /** Give up (and report `timedOut`) after this long; generous, the machine may be loaded. */
  timeoutMs?: number;
}

/**
 * Talks HTTP/1.1 byte by byte over node:net, so a test can send what no HTTP client library would: broken
 * framing, invalid bytes, pauses in the middle of a header. Never throws on network errors: a reset is a close.
 */
export function rawExchange(
  target: RawTarget,
  steps: readonly RawStep[],
  options: RawExchangeOptions = {},
): Promise<RawExchange> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let received = Buffer.alloc(0);
    let done = false;
    let closed = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const { responses, leftover } = parseResponses(received);
      resolve({ responses, closed, timedOut, leftover });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (options.responses !== undefined && parseResponses(received).responses.length >= options.responses) {
        finish(false);
      }
    });
    socket.on('error', () => {
      closed = true;
    });
    socket.on('close', () => {
      closed = true;
      finish(false);
    });
    socket.once('connect', async () => {
      for (const step of steps) {
        if (done || socket.destroyed || !socket.writable) return;
        if (typeof step === 'object' && !Buffer.isBuffer(step)) {
          await new Promise((next) => setTimeout(next, step.pauseMs));
        } else {
          socket.write(step);
        }
      }
      if (options.endAfterWrite && !socket.destroyed) socket.end();
    });
  });
}

/** Splits a byte stream into HTTP/1.1 responses (content-length, chunked, or until close). */
export function parseResponses(bytes: Buffer): { responses: RawResponse[]; leftover: string } {
  const responses: RawResponse[] = [];
  let rest = bytes;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!status) break;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const afterHead = rest.subarray(end + 4);
    const statusCode = Number(status[1]);
    let body: Buffer;
    let consumed: number;
    if (statusCode === 204 || statusCode === 304) {
      body = Buffer.alloc(0);
      consumed = 0;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (afterHead.length < length) break;
      body = afterHead.subarray(0, length);
      consumed = length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const decoded = decodeChunked(afterHead);
      if (!decoded) break;
      body = decoded.body;
      consumed = decoded.consumed;
    } else {
      // Delimited by the close: only complete once nothing follows, which the caller sees as `closed`.
      body = afterHead;
      consumed = afterHead.length;
    }
    responses.push({ statusCode, headers, body: body.toString('utf8') });
    rest = afterHead.subarray(consumed);
  }
  return { responses, leftover: rest.toString('latin1') };
}

function decodeChunked(bytes: Buffer): { body: Buffer; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    offset = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = bytes.indexOf('\r\n', offset);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), consumed: trailerEnd + 2 };
    }
    if (bytes.length < offset + size + 2) return undefined;
    parts.push(bytes.subarray(offset, offset + size));
    offset += size + 2;
  }
}
