import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { SlotCodec } from './slot-codec.js';

const RUNS = { numRuns: 300, seed: 13 };

const codec = new SlotCodec([
  {
    name: 'a',
    fields: [
      { name: 'level', encoding: 'f64' },
      { name: 'spread', encoding: 'f32' },
      { name: 'n', encoding: 'uint' },
      { name: 'run', encoding: 'int' },
      { name: 'l2', encoding: 'f64' },
      { name: 'l3', encoding: 'f64' },
      { name: 'l4', encoding: 'f64' },
      { name: 'l5', encoding: 'f64' },
      { name: 'l6', encoding: 'f64' },
    ],
  },
  { name: 'b', fields: [{ name: 'n', encoding: 'uint' }] },
]);

/** One value per slot, each of what its encoding can hold, zeros often (they are left out). */
const slotValues = fc.tuple(
  fc.oneof(fc.constant(0), fc.double()),
  fc.oneof(fc.constant(0), fc.float().map(Math.fround)),
  fc.oneof(fc.constant(0), fc.maxSafeNat()),
  fc.oneof(fc.constant(0), fc.integer({ min: -1_000_000, max: 1_000_000 })),
  ...Array.from({ length: 5 }, () => fc.oneof(fc.constant(0), fc.double({ noNaN: true }))),
  fc.oneof(fc.constant(0), fc.nat()),
);

describe('SlotCodec', () => {
  it('round-trips every slot exactly, in its encoding', () => {
    fc.assert(
      fc.property(slotValues, (values) => {
        const stats = Float64Array.from(values);
        const back = new Float64Array(codec.slots).fill(7);
        codec.fromBase64(codec.toBase64(stats), back, 'test');
        expect(Array.from(back)).toEqual(Array.from(stats));
      }),
      RUNS,
    );
  });

  it('stores a group of zeros as its mask alone', () => {
    const stats = new Float64Array(codec.slots);
    expect(base64ToBytes(codec.toBase64(stats), 'test')).toEqual(Uint8Array.of(0, 0, 0));
    stats[2] = 300;
    // Mask bit 2, then 300 as a varint (0xac 0x02); group b's mask.
    expect(base64ToBytes(codec.toBase64(stats), 'test')).toEqual(Uint8Array.of(0b100, 0, 0xac, 0x02, 0));
  });

  it('names its slots and encodings in its layout', () => {
    expect(codec.layout).toBe(
      'presence-masked,a.level:f64,a.spread:f32,a.n:uint,a.run:int,a.l2:f64,a.l3:f64,a.l4:f64,a.l5:f64,a.l6:f64,b.n:uint',
    );
  });

  it('refuses what is not exactly one packing, naming the source', () => {
    const stats = new Float64Array(codec.slots);
    stats[0] = 1.5;
    stats[2] = 3;
    const bytes = base64ToBytes(codec.toBase64(stats), 'test');
    const into = new Float64Array(codec.slots);
    const decode = (b: Uint8Array) => () => codec.fromBase64(bytesToBase64(b), into, 'snap');
    expect(decode(bytes.subarray(0, bytes.length - 3))).toThrow(/snap: ends before its layout does/);
    expect(decode(Uint8Array.from([...bytes, 0]))).toThrow(/snap: holds \d+ bytes, its layout \d+/);
    // Group a has 9 fields: bits 9..15 of its mask name nothing.
    expect(decode(Uint8Array.of(0, 0b10, 0))).toThrow(/snap: presence mask names a field/);
    expect(decode(Uint8Array.of(0b100, 0, ...Array(9).fill(0xff), 0x01, 0))).toThrow(/longer than 2\^53/);
  });

  it('refuses to store a non-integer in an integer slot', () => {
    const stats = new Float64Array(codec.slots);
    stats[2] = 1.5;
    expect(() => codec.toBase64(stats)).toThrow(/slot 2: 1.5 is not an integer/);
    stats[2] = 0;
    stats[3] = 0.5;
    expect(() => codec.toBase64(stats)).toThrow(/slot 3: NaN is not an integer/);
  });
});
