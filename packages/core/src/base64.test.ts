import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from './base64.js';

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

  it('refuses a character outside the alphabet or a wrong length, naming the source', () => {
    expect(() => base64ToBytes('AA*A', 'packed')).toThrow(/packed: not base64/);
    expect(() => base64ToBytes('AAAA', 'packed', new Uint8Array(2))).toThrow(/packed: holds 3 bytes/);
  });
});
