import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, base64ToFloats, bytesToBase64, floatsToBase64 } from './base64.js';

const RUNS = { numRuns: 200, seed: 64 };

describe('base64 (the one codec of core checkpoints)', () => {
  it('encodes bytes as standard base64 and decodes them back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        const text = bytesToBase64(bytes);
        expect(text).toBe(btoa(String.fromCharCode(...bytes)));
        expect(Array.from(base64ToBytes(text, 'test'))).toEqual(Array.from(bytes));
      }),
      RUNS,
    );
  });

  it('encodes only the first `length` bytes', () => {
    expect(bytesToBase64(Uint8Array.of(1, 2, 3, 4, 5), 2)).toBe(btoa('\x01\x02'));
  });

  it('round-trips doubles bit for bit', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 80 }), (values) => {
        const floats = Float64Array.from(values);
        const back = new Float64Array(floats.length);
        base64ToFloats(floatsToBase64(floats), back, 'test');
        expect(Array.from(back)).toEqual(Array.from(floats));
      }),
      RUNS,
    );
  });

  it('refuses a wrong length or a character outside the alphabet, naming the source', () => {
    expect(() => base64ToFloats(floatsToBase64(new Float64Array(3)), new Float64Array(4), 'snap')).toThrow(
      /snap: holds 3 numbers, expected 4/,
    );
    expect(() => base64ToBytes('AA*A', 'packed')).toThrow(/packed: not base64/);
    expect(() => base64ToBytes('AAAA', 'packed', new Uint8Array(2))).toThrow(/packed: holds 3 bytes/);
  });
});
