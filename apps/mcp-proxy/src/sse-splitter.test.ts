import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseSplitter } from './sse-splitter.js';

const stream = Buffer.from(
  ': comment\n\nretry: 500\nid: 1\ndata: \n\nevent: message\r\nid: 2\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: é\r\rdata: tail',
);

function splitAll(chunks: Buffer[]) {
  const splitter = new SseSplitter();
  const blocks = chunks.flatMap((chunk) => splitter.push(chunk));
  return { blocks, rest: splitter.remainder };
}

describe('SseSplitter', () => {
  it('cuts whole blocks with LF, CRLF and CR line ends, comments and priming events', () => {
    const { blocks, rest } = splitAll([stream]);
    expect(blocks.map((b) => [b.event, b.id, b.data])).toEqual([
      [undefined, undefined, undefined],
      [undefined, '1', ''],
      ['message', '2', '{"a":\n1}'],
      [undefined, undefined, 'é'],
    ]);
    expect(rest.toString()).toBe('data: tail');
  });

  it('gives the same blocks and bytes however the stream is chunked (property)', () => {
    const whole = splitAll([stream]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...points].map((start, i) => stream.subarray(start, points[i] ?? stream.length));
        const split = splitAll(chunks);
        expect(Buffer.concat([...split.blocks.map((b) => b.raw), split.rest])).toEqual(stream);
        expect(split.blocks.map((b) => b.data)).toEqual(whole.blocks.map((b) => b.data));
      }),
      { seed: 17, numRuns: 300 },
    );
  });
});
