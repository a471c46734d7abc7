import { describe, expect, it } from 'vitest';
import { lastEventBoundary } from './event-boundary.js';

const at = (text: string) => lastEventBoundary(new TextEncoder().encode(text));

describe('lastEventBoundary', () => {
  it('finds the end of the last complete event for LF, CR and CRLF framing', () => {
    expect(at('data: a\n\ndata: b')).toBe(9);
    expect(at('data: a\n\ndata: b\n\n')).toBe(18);
    expect(at('data: a\r\n\r\ndata: b')).toBe(11);
    expect(at('data: a\r\rdata')).toBe(9);
    expect(at('data: a\n')).toBe(-1);
    expect(at('data: a\r\n')).toBe(-1);
    expect(at('')).toBe(-1);
  });
});
