import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EWMA_SLOTS, ewmaMean, ewmaUpdate, ewmaVariance } from './ewma.js';

/** The weighted mean and variance computed directly from the weights each sample ends up with. */
function direct(xs: number[], alpha: number): { mean: number; variance: number } {
  const alphas = xs.map((_, i) => Math.max(alpha, 1 / (i + 1)));
  const weights = xs.map((_, i) => alphas[i]! * alphas.slice(i + 1).reduce((w, a) => w * (1 - a), 1));
  const mean = xs.reduce((sum, x, i) => sum + weights[i]! * x, 0);
  const variance = xs.reduce((sum, x, i) => sum + weights[i]! * (x - mean) ** 2, 0);
  return { mean, variance };
}

describe('ewma', () => {
  it('matches the directly computed weighted mean and variance', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        (xs, alpha) => {
          const stats = new Float64Array(EWMA_SLOTS);
          for (const x of xs) ewmaUpdate(stats, 0, x, alpha);
          const expected = direct(xs, alpha);
          const scale = Math.max(1, ...xs.map(Math.abs));
          expect(Math.abs(ewmaMean(stats, 0) - expected.mean)).toBeLessThanOrEqual(1e-9 * scale);
          expect(Math.abs(ewmaVariance(stats, 0) - expected.variance)).toBeLessThanOrEqual(
            1e-9 * scale * scale,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lets the variance remember longer than the mean, and equals Welford when both weights agree', () => {
    const xs = Array.from({ length: 400 }, (_, i) => (i < 200 ? 10 : 20) + ((i * 7919) % 13) - 6);
    const same = new Float64Array(EWMA_SLOTS);
    const welford = new Float64Array(EWMA_SLOTS);
    const slow = new Float64Array(EWMA_SLOTS);
    for (const x of xs) {
      ewmaUpdate(same, 0, x, 0.05, 0.05);
      ewmaUpdate(welford, 0, x, 0.05);
      ewmaUpdate(slow, 0, x, 0.05, 0.01);
    }
    expect(Array.from(same)).toEqual(Array.from(welford));
    // Same centre; the slower variance still remembers the level change 200 samples back.
    expect(ewmaMean(slow, 0)).toBe(ewmaMean(welford, 0));
    expect(ewmaVariance(slow, 0)).toBeGreaterThan(ewmaVariance(welford, 0));
  });

  it('starts as a plain average, so early estimates are not biased towards zero', () => {
    const stats = new Float64Array(EWMA_SLOTS);
    for (const x of [10, 20, 30]) ewmaUpdate(stats, 0, x, 0.05);
    expect(ewmaMean(stats, 0)).toBeCloseTo(20, 12);
  });
});
