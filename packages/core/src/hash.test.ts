import { describe, expect, it } from 'vitest';
import { djb2, fnv1a } from './hash.js';

describe('hashes kept in checkpoints', () => {
  it('match the published FNV-1a 32-bit vectors', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('keep djb2 (xor) values stable', () => {
    expect(djb2('')).toBe(5381);
    expect(djb2('vital-1')).toBe(0x39b22dff);
  });
});
