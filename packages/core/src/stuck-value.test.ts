import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StuckValue } from './stuck-value.js';
import { seededRandom } from './testing.js';

const RUNS = { numRuns: 25, seed: 1313 };
const THRESHOLD = 4;

/** Indices where a run first reaches the threshold (one alarm per run, as SeriesDetector raises it). */
function alarms(values: readonly number[], minSamples = 15): number[] {
  const stuck = new StuckValue(minSamples);
  const out: number[] = [];
  values.forEach((v, i) => {
    if (stuck.observe(v) >= THRESHOLD) {
      stuck.markAlarmed();
      out.push(i);
    }
  });
  return out;
}

describe('StuckValue (a metric that stopped moving)', () => {
  it('flags a continuous series frozen at its last value within a few samples, once per flat-line', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 100, max: 400 }),
        (seed, at) => {
          const random = seededRandom(seed);
          const values: number[] = [];
          for (let i = 0; i < 1000; i++) {
            const frozen = (i > at && i < at + 200) || (i > 700 && i < 800);
            values.push(frozen ? values[i - 1]! : 100 + random());
          }
          const found = alarms(values);
          expect(found).toHaveLength(2);
          expect(found[0]! - at).toBeGreaterThan(0);
          expect(found[0]! - at).toBeLessThanOrEqual(5);
          expect(found[1]! - 700).toBeLessThanOrEqual(5);
        },
      ),
      RUNS,
    );
  });

  it('never flags a series that repeats all the time: a constant, a count that is mostly 0', () => {
    expect(alarms(Array.from({ length: 2000 }, () => 7))).toEqual([]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const random = seededRandom(seed);
        const counts = Array.from({ length: 2000 }, () => (random() < 0.05 ? 1 : 0));
        expect(alarms(counts)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('does not call a constant stuck when it returns to its value after a noisy spell', () => {
    const random = seededRandom(42);
    const values = Array.from({ length: 1500 }, (_, i) => (i >= 600 && i < 900 ? 5 + random() : 5));
    expect(alarms(values)).toEqual([]);
  });
});
