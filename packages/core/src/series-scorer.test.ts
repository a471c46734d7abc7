import { describe, expect, it } from 'vitest';
import { DEFAULT_SERIES_SCORER_CONFIG, SeriesScorer } from './series-scorer.js';
import { gaussian, seededRandom } from './testing.js';

describe('SeriesScorer', () => {
  it('scores every sample in [0, 1], 0 while warming up, high on a spike', () => {
    const random = seededRandom(5);
    const scorer = new SeriesScorer();
    const scores = Array.from({ length: 200 }, (_, i) =>
      scorer.score(i === 150 ? 500 : gaussian(random, 100, 5)),
    );
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores.slice(0, 15).every((s) => s === 0)).toBe(true);
    expect(scores[150]).toBeGreaterThan(0.95);
    const normal = scores.filter((_, i) => i >= 15 && i !== 150);
    expect(normal.filter((s) => s >= 0.5).length).toBeLessThanOrEqual(2);
  });

  it('scores drops as well as rises', () => {
    const scorer = new SeriesScorer();
    for (let i = 0; i < 50; i++) scorer.score(100 + (i % 3));
    expect(scorer.score(10)).toBeGreaterThan(0.9);
  });

  it('accepts a sustained level shift as the new normal', () => {
    const scorer = new SeriesScorer({ ...DEFAULT_SERIES_SCORER_CONFIG, relearnAfter: 10 });
    for (let i = 0; i < 50; i++) scorer.score(100 + (i % 3));
    const shifted = Array.from({ length: 60 }, (_, i) => scorer.score(1000 + (i % 3) * 10));
    expect(shifted[0]).toBeGreaterThan(0.9);
    expect(shifted.slice(-10).every((s) => s < 0.5)).toBe(true);
  });

  it('ignores values that are not finite numbers', () => {
    const scorer = new SeriesScorer();
    expect(scorer.score(Number.NaN)).toBe(0);
  });
});
