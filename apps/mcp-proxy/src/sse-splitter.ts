/** One block of an SSE stream up to and including its blank line: the bytes as received, and what they say. */
export interface SseBlock {
  raw: Buffer;
  /** `event:` field, if any. */
  event: string | undefined;
  /** `data:` lines joined with LF; undefined when the block has none (comments, `retry:`, priming events). */
  data: string | undefined;
  /** `id:` field, if any (an empty `id:` counts: it resets the last event id). */
  id: string | undefined;
}

const LF = 10;
const CR = 13;

/**
 * Splits an SSE byte stream into whole blocks (events, comment runs, `retry:` lines), whatever the chunking:
 * lines may be split anywhere, even inside a UTF-8 character, and end in LF, CRLF or CR. The proxy forwards
 * each block's bytes untouched the moment its blank line arrives, so it can always stop at an event boundary.
 */
export class SseSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the blocks they complete, in order. */
  push(chunk: Buffer): SseBlock[] {
    const bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const blocks: SseBlock[] = [];
    let blockStart = 0;
    let lineStart = 0;
    let i = 0;
    while (i < bytes.length) {
      const byte = bytes[i] as number;
      if (byte !== LF && byte !== CR) {
        i++;
        continue;
      }
      // A CR as the last byte may be the first half of a CRLF that the next chunk completes.
      if (byte === CR && i === bytes.length - 1) break;
      const lineEnd = i;
      i += byte === CR && bytes[i + 1] === LF ? 2 : 1;
      if (lineEnd === lineStart) {
        blocks.push(describe(bytes.subarray(blockStart, i)));
        blockStart = i;
      }
      lineStart = i;
    }
    this.pending = Buffer.from(bytes.subarray(blockStart));
    return blocks;
  }

  /** Bytes of an unfinished block (the upstream ended, or the proxy cuts the stream). */
  get remainder(): Buffer {
    return this.pending;
  }
}

function describe(raw: Buffer): SseBlock {
  let event: string | undefined;
  let id: string | undefined;
  const data: string[] = [];
  for (const line of raw.toString('utf8').split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  return { raw, event, data: data.length === 0 ? undefined : data.join('\n'), id };
}

/** An SSE event that carries one JSON-RPC message, as the proxy writes its own (quarantine) errors. */
export function sseMessage(json: unknown): Buffer {
  return Buffer.from(`event: message\ndata: ${JSON.stringify(json)}\n\n`);
}
