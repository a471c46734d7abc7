import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesDetector, seriesDetectorConfig } from './series-detector.js';
import { seededRandom } from './testing.js';

/** A standard Gaussian from a seeded uniform source (Box–Muller). */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Indices of the samples that alarmed. */
function alarms(detector: SeriesDetector, values: readonly number[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (detector.observe(v).alarm) out.push(i);
  });
  return out;
}

const RUNS = { numRuns: 25, seed: 1313 };

describe('SeriesDetector (the production baseline on one generic metric)', () => {
  it('accepts a persisting level shift within acceptShiftAfter samples of flagging it, then is quiet', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 8, max: 50, noNaN: true }),
        fc.boolean(),
        (seed, size, up) => {
          const noise = gaussian(seededRandom(seed));
          const level = up ? size : -size;
          const values = Array.from({ length: 1200 }, (_, i) => 100 + (i >= 600 ? level : 0) + noise());
          const config = seriesDetectorConfig();
          const detector = new SeriesDetector(config);
          const verdicts = values.map((v) => detector.observe(v));
          const flagged = verdicts.findIndex((v, i) => i >= 600 && v.alarm);
          expect(flagged).toBeGreaterThanOrEqual(600);
          expect(flagged).toBeLessThan(605);
          // Accepted: nothing after the shift's acceptance window alarms on the new level.
          const late = verdicts.slice(flagged + config.acceptShiftAfter + 1).filter((v) => v.alarm);
          expect(late).toEqual([]);
          // No alarm before the shift once the baseline is warm... beyond the odd noise alarm.
          expect(verdicts.slice(100, 600).filter((v) => v.alarm).length).toBeLessThanOrEqual(1);
        },
      ),
      RUNS,
    );
  });

  it('learns a daily cycle without alarms after one period', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 5, max: 100, noNaN: true }),
        (seed, amplitude) => {
          const noise = gaussian(seededRandom(seed));
          const period = 288; // 5-minute samples
          const values = Array.from(
            { length: period * 4 },
            (_, i) => 200 + amplitude * Math.sin((2 * Math.PI * i) / period) + noise(),
          );
          const found = alarms(new SeriesDetector(), values).filter((i) => i >= period);
          expect(found).toEqual([]);
        },
      ),
      RUNS,
    );
  });

  it('on a near-constant series flags a real jump and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 20, max: 480 }), (seed, at) => {
        const random = seededRandom(seed);
        // 42 with a ±0.01 wobble every 17 samples (the first during warm-up); a jump of 1 at `at`.
        const values = Array.from({ length: 500 }, (_, i) =>
          i === at ? 43 : 42 + (i % 17 === 3 ? (random() < 0.5 ? -0.01 : 0.01) : 0),
        );
        expect(alarms(new SeriesDetector(), values)).toEqual([at]);
      }),
      RUNS,
    );
  });

  it('on a noise-free constant flags the jump and nothing else', () => {
    const values = Array.from({ length: 300 }, (_, i) => (i === 200 ? 7 : 5));
    expect(alarms(new SeriesDetector(), values)).toEqual([200]);
  });

  it('raises one alarm per episode', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 2, max: 40 }),
        (seed, length) => {
          const noise = gaussian(seededRandom(seed));
          // An excursion of `length` samples far out, then back to normal.
          const values = Array.from(
            { length: 800 },
            (_, i) => 10 + (i >= 500 && i < 500 + length ? 30 : 0) + noise(),
          );
          const found = alarms(new SeriesDetector(), values).filter((i) => i >= 500);
          expect(found).toEqual([500]);
        },
      ),
      RUNS,
    );
  });

  it('flags a noisy series that freezes, once, within a few samples', () => {
    const noise = gaussian(seededRandom(5));
    const values: number[] = [];
    for (let i = 0; i < 1200; i++) values.push(i > 800 && i < 1000 ? values[i - 1]! : 50 + noise());
    const found = alarms(new SeriesDetector(), values).filter((i) => i > 800);
    expect(found.length).toBeGreaterThanOrEqual(1);
    expect(found[0]!).toBeLessThanOrEqual(805);
    expect(found.filter((i) => i < 1000)).toHaveLength(1);
  });
});
