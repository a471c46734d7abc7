import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.js';

const STREAM =
  'event: message_start\ndata: {"a":1}\n\n' +
  ': keep-alive comment\n\n' +
  'data: line one\ndata: line two\n\n' +
  'id: 7\r\nevent: ping\r\ndata: {"é":"ü"}\r\n\r\n' +
  'data: [DONE]\n\n';

const EXPECTED = [
  { event: 'message_start', data: '{"a":1}', id: undefined },
  { event: undefined, data: 'line one\nline two', id: undefined },
  { event: 'ping', data: '{"é":"ü"}', id: '7' },
  { event: undefined, data: '[DONE]', id: '7' },
];

describe('SseParser', () => {
  it('parses events, comments, multi-line data and CRLF', () => {
    const parser = new SseParser();
    expect([...parser.push(STREAM), ...parser.end()]).toEqual(EXPECTED);
  });

  it('gives the same events however the bytes are split', () => {
    const bytes = new TextEncoder().encode(STREAM);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 20 }),
        (cuts) => {
          const parser = new SseParser();
          const events = [];
          let last = 0;
          for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
            events.push(...parser.push(bytes.subarray(last, cut)));
            last = cut;
          }
          events.push(...parser.end());
          expect(events).toEqual(EXPECTED);
        },
      ),
    );
  });

  it('delivers a last event that lacks its blank line at end of stream', () => {
    const parser = new SseParser();
    expect(parser.push('data: tail')).toEqual([]);
    expect(parser.end()).toEqual([{ event: undefined, data: 'tail', id: undefined }]);
  });

  it('treats a lone CR as a line end', () => {
    const parser = new SseParser();
    expect(parser.push('data: x\r\rdata: y\r\r')).toEqual([
      { event: undefined, data: 'x', id: undefined },
      { event: undefined, data: 'y', id: undefined },
    ]);
  });

  it('reads a field without a colon as an empty value, whatever follows on later lines', () => {
    const parser = new SseParser();
    expect(parser.push('data\ndata: x:y\nevent\n\nid:3\ndata:z\n\n')).toEqual([
      { event: '', data: '\nx:y', id: undefined },
      { event: undefined, data: 'z', id: '3' },
    ]);
  });
});
