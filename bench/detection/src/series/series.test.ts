import { describe, expect, it } from 'vitest';
import { generateCorpus } from './corpus.js';
import { naiveEwma, nullDetector, ourDetector, runDetector } from './detectors.js';
import { scoreAlarms } from './scoring.js';

/**
 * Smoke test of the real-world-like suite on a small seeded corpus: a ranking, never a timing. It asserts only
 * what the full run (docs/detection-benchmark.md) also shows: the production detector beats flagging nothing,
 * and beats the naive EWMA z-score at every threshold, its best one included (on this corpus by 13 points;
 * asserted with a margin of 5).
 */
describe('real-world-like series suite (seeded smoke)', () => {
  const corpus = generateCorpus(7, 18);
  const score = (detector: Parameters<typeof runDetector>[1]) =>
    scoreAlarms(corpus, runDetector(corpus, detector));

  it('labels 3 windows per series and scores the null detector 0', () => {
    expect(corpus.every((s) => s.windows.length === 3 && s.values.every(Number.isFinite))).toBe(true);
    expect(score(nullDetector).score).toBe(0);
  });

  it('ranks our detector above null and above the naive EWMA z-score at every threshold', () => {
    const ours = score(ourDetector()).score;
    expect(ours).toBeGreaterThan(0);
    for (const t of [3, 4, 5, 6, 8]) expect(ours).toBeGreaterThan(score(naiveEwma(t)).score + 5);
  });
});
