import { describe, expect, it } from 'vitest';
import {
  BASELINE_SLOTS,
  type BaselineParams,
  baselineVariance,
  newVerdict,
  observeBaseline,
} from './metric-baseline.js';
import { gaussian, seededRandom } from './testing.js';

/** The detector's defaults for one metric at the 3σ threshold, on a unit-free scale. */
const PARAMS: BaselineParams = {
  alpha: 0.002,
  shortAlpha: 0.2,
  minSamples: 15,
  winsor: 4,
  threshold: 3,
  twoSided: false,
  floor: 0.01,
  quiet: 0,
  acceptAfter: 50,
  noveltyMargin: 0,
  evidenceSlack: 1.5,
  evidenceCap: 6,
  evidenceAlarm: 7.5,
  maxSigma: 1000,
};

/** A mature baseline (3,000 seeded N(0, 1) samples) and a function that judges one more value. */
function mature(): { sd: number; feed: (y: number) => ReturnType<typeof newVerdict> } {
  const stats = new Float64Array(BASELINE_SLOTS);
  const verdict = newVerdict();
  const random = seededRandom(13);
  for (let i = 0; i < 3000; i++) observeBaseline(stats, 0, gaussian(random, 0, 1), PARAMS, verdict);
  const sd = Math.sqrt(baselineVariance(stats, 0));
  return { sd, feed: (y) => ({ ...observeBaseline(stats, 0, y, PARAMS, verdict) }) };
}

describe('metric baseline: sustained evidence (CUSUM)', () => {
  it('does not read a few ordinary calls after one large one as a sustained shift', () => {
    // A log-normal size's tail: one call at 4σ, then ordinary 2σ calls. The short mean is pulled up and
    // flags them, but the CUSUM sums the points' own deviations (2.5, then 0.5 per call), so it never
    // corroborates. Summing the short mean's deviation instead had it sustained by the third 2σ call: the
    // cause of issue 13's false quarantines on the fleet simulation.
    const { sd, feed } = mature();
    const verdicts = [feed(4 * sd), ...Array.from({ length: 5 }, () => feed(2 * sd))];
    expect(verdicts[0]!.anomalous).toBe(true);
    expect(verdicts.slice(1).some((v) => v.anomalous)).toBe(true);
    expect(verdicts.some((v) => v.sustained)).toBe(false);
  });

  it('still marks a real shift sustained on its third vital, never on one alone', () => {
    const { sd, feed } = mature();
    const sustained = [5, 5, 5].map((z) => feed(z * sd).sustained);
    expect(sustained).toEqual([false, false, true]);
  });

  it('accumulates a small shift that persists (2.5σ) until it is sustained', () => {
    const { sd, feed } = mature();
    let at = -1;
    for (let i = 0; i < 40 && at < 0; i++) if (feed(2.5 * sd).sustained) at = i;
    // 1σ over the slack per vital: the 7.5σ alarm level within about eight vitals.
    expect(at).toBeGreaterThanOrEqual(5);
    expect(at).toBeLessThanOrEqual(10);
  });
});
