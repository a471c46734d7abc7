import type { SlotField } from './slot-codec.js';
import { studentToSigma } from './tail.js';

/**
 * One metric's robust streaming baseline on its judged scale, kept in `BASELINE_SLOTS` slots of a
 * Float64Array so that a detector holds all its metrics in one allocation. The rules (issue 13):
 *
 * - every sample is learned, with a long memory (`alpha` ≈ 1/1000), its influence winsorised to
 *   mean ± `winsor`·sd: an outlier moves the baseline a little, never a lot, and a regular excursion (a daily
 *   peak) ends up inside the learned spread instead of staying anomalous forever;
 * - a deviation is the larger of the point's and a short EWMA's (`shortAlpha`), the latter measured against
 *   the learned spread of that short mean, so a small shift that persists is seen before any single point
 *   is extreme, and an autocorrelated series (a cycle) calibrates it by itself; the short mean counts only
 *   while the point itself is past half the threshold on the same side (its echo after an excursion is not
 *   news);
 * - the deviation is a Student-t statistic while the baseline is young (df = effective samples − 1), turned
 *   into its σ-equivalent: calibrated tail probabilities, no hard floor for youth;
 * - one alarm per episode: after an alarm the metric stays quiet for `quiet` samples (the sustained CUSUM
 *   still reports a persisting state);
 * - a level shift is flagged at onset; once it has persisted for `acceptAfter` samples the mean moves to
 *   it, keeping the variance: no reset, no new warm-up;
 * - a noise floor per metric kind that does not depend on |mean| (`floor`; a generic series sets it from
 *   its smallest step seen, see `SeriesDetector`), so a noise-free series is not infinitely sensitive;
 * - a value beyond the range seen so far by `noveltyMargin` times that range is novel, hence anomalous.
 */
export interface BaselineParams {
  /** Long-memory weight of a sample in mean and variance. */
  alpha: number;
  /** Weight of a sample in the short mean. */
  shortAlpha: number;
  /** Samples before anything is judged. */
  minSamples: number;
  /** Winsorising bound on a sample's influence, in sd. */
  winsor: number;
  /** σ-equivalent at which a sample is anomalous. */
  threshold: number;
  /** Judge falls as well as rises. */
  twoSided: boolean;
  /** Noise floor on the judged scale (sd). */
  floor: number;
  /** Samples of silence after an alarm. */
  quiet: number;
  /** Samples a shift must persist to become the new normal (0: never). */
  acceptAfter: number;
  /** A value beyond the seen range by this multiple of the range is novel (0: off). */
  noveltyMargin: number;
  /** CUSUM per sample of the point's own σ: adds min(σ, cap) − slack; sustained at alarm. */
  evidenceSlack: number;
  evidenceCap: number;
  evidenceAlarm: number;
  /** Cap on the reported σ. */
  maxSigma: number;
}

/**
 * Named slots, in order, with how a checkpoint stores each (see `slot-codec.ts`). Levels on the judged scale
 * (mean, short mean, range, run level) stay doubles: a raw series may sit at 10⁶ with steps of 0.01. Spreads
 * and the CUSUM only need relative precision, so they are float32, and the update rounds them to float32 as
 * it writes them (`Math.fround`): what is checkpointed is exactly what is in memory, so a restored baseline
 * decides as the original. Counts and the run length are integers.
 */
export const BASELINE_FIELDS = [
  { name: 'mean', encoding: 'f64' },
  { name: 'variance', encoding: 'f32' },
  { name: 'count', encoding: 'uint' },
  { name: 'short', encoding: 'f64' },
  { name: 'short_variance', encoding: 'f32' },
  { name: 'evidence', encoding: 'f32' },
  { name: 'low', encoding: 'f64' },
  { name: 'high', encoding: 'f64' },
  { name: 'quiet', encoding: 'uint' },
  { name: 'run', encoding: 'int' },
  { name: 'run_level', encoding: 'f64' },
] as const satisfies readonly SlotField[];
export type BaselineField = (typeof BASELINE_FIELDS)[number]['name'];
export const BASELINE_SLOTS = BASELINE_FIELDS.length;

const MEAN = 0;
const VAR = 1;
const COUNT = 2;
const SHORT = 3;
const SHORT_VAR = 4;
const EVIDENCE = 5;
const LOW = 6;
const HIGH = 7;
const QUIET = 8;
const RUN = 9;
const RUN_LEVEL = 10;

/** What one sample did; reused by the caller (no allocation per sample). */
export interface BaselineVerdict {
  /** σ-equivalent of the larger deviation (signed), 0 when not judged: what is decided on. */
  sigma: number;
  /**
   * σ-equivalent to report (signed): for an anomalous sample its own deviation's, at least the threshold
   * when the short mean made it anomalous; otherwise `sigma`. Severity is read from it.
   */
  reported: number;
  /** Past the threshold (or novel): the sample is not normal. */
  anomalous: boolean;
  /** Report it: anomalous outside a quiet period, or sustained. */
  alarm: boolean;
  /** Anomalous outside a quiet period: the onset of an episode. */
  onset: boolean;
  /** The CUSUM is at its alarm level: a persisting shift. */
  sustained: boolean;
  /** A persisting level shift was accepted as the new normal on this sample. */
  accepted: boolean;
  /** The mean the sample was judged against. */
  expected: number;
}

export function newVerdict(): BaselineVerdict {
  return {
    sigma: 0,
    reported: 0,
    anomalous: false,
    alarm: false,
    onset: false,
    sustained: false,
    accepted: false,
    expected: 0,
  };
}

/**
 * Judges `y` against the baseline at `at`, then learns it. `adaptAlpha` > 0 learns fast and unclipped
 * (after a healing); `judge` false only learns (warm-up of the caller).
 */
export function observeBaseline(
  stats: Float64Array,
  at: number,
  y: number,
  p: BaselineParams,
  out: BaselineVerdict,
  judge = true,
  adaptAlpha = 0,
): BaselineVerdict {
  out.sigma = 0;
  out.reported = 0;
  out.anomalous = false;
  out.alarm = false;
  out.onset = false;
  out.sustained = false;
  out.accepted = false;
  const n = stats[at + COUNT]!;
  const mean = stats[at + MEAN]!;
  out.expected = mean;
  if (n === 0) {
    stats[at + MEAN] = y;
    stats[at + VAR] = 0;
    stats[at + COUNT] = 1;
    stats[at + SHORT] = y;
    stats[at + SHORT_VAR] = 0;
    stats[at + LOW] = y;
    stats[at + HIGH] = y;
    return out;
  }
  const floor = p.floor;
  let variance = stats[at + VAR]!;
  if (variance < floor * floor) variance = floor * floor;
  const as = p.shortAlpha;
  // The winsorised sample is what both means learn: one far-out value moves the short mean by at most
  // `shortAlpha`·`winsor` sd, so it cannot drag the following ordinary samples into an alarm of their own.
  const adapting = adaptAlpha > 0;
  let x = y;
  if (!adapting && n >= p.minSamples) {
    const bound = p.winsor * Math.sqrt(variance);
    if (x > mean + bound) x = mean + bound;
    else if (x < mean - bound) x = mean - bound;
  }
  const short = stats[at + SHORT]! + as * (x - stats[at + SHORT]!);
  const maxEffective = (2 - p.alpha) / p.alpha;
  const nEff = Math.min(n, maxEffective);
  const widen = 1 + 1 / nEff;

  if (judge && n >= p.minSamples) {
    // Two views of the spread, and a sample must be surprising under both. The learned spread is an
    // estimate from nEff samples, so its deviations are Student-t (df = nEff − 1); the noise floor is not
    // estimated (it is what the metric kind says noise at least is), so a deviation measured in floors is
    // Gaussian. The smaller σ-equivalent wins: with the learned spread above the floor that is always the
    // Student-t one (the floor changes nothing); below it, the floor. Shrinking a floored spread by the
    // Student-t tail as well, as if the floor had been estimated from 20 samples, made a +40 % token shift on
    // a young, quiet baseline (3.5 floors) fall under 3σ: the youth penalty was paid twice.
    const learned = stats[at + VAR]!;
    const learnedShort = stats[at + SHORT_VAR]!;
    const shortDiff = short - mean;
    const diff = y - mean;
    const tPoint = deviation(diff, learned * widen);
    const tJudged = judgeT(tPoint, shortDiff, learned, learnedShort, widen, as, p);
    const student = studentToSigma(tJudged, nEff - 1);
    let sigma = student;
    const floorVar = floor * floor;
    const floored = learned < floorVar;
    const knownPoint = floored ? deviation(diff, floorVar * widen) : 0;
    if (floored) {
      const known = judgeT(knownPoint, shortDiff, floorVar, learnedShort, widen, as, p);
      if (Math.abs(known) < Math.abs(sigma)) sigma = known;
    }
    if (sigma > p.maxSigma) sigma = p.maxSigma;
    else if (sigma < -p.maxSigma) sigma = -p.maxSigma;
    out.sigma = sigma;
    const magnitude = p.twoSided ? Math.abs(sigma) : sigma;

    let anomalous = magnitude >= p.threshold;
    if (!anomalous && p.noveltyMargin > 0) {
      const low = stats[at + LOW]!;
      const high = stats[at + HIGH]!;
      // Never closer than the threshold in floors: on a constant series the range is 0.
      let range = high - low;
      if (range < p.threshold * floor) range = p.threshold * floor;
      const margin = p.noveltyMargin * range;
      if (margin > 0 && (y > high + margin || (p.twoSided && y < low - margin))) anomalous = true;
    }
    out.anomalous = anomalous;
    // What a human (and the severity rule) reads is how far this sample itself is out, not how sure the
    // short mean has become that a shift persists: a +40 % shift held for four calls is a mild anomaly,
    // however certain. Only when the short mean alone made the sample anomalous is the threshold reported.
    // Most samples are judged on the point alone, whose σ-equivalent is then already known.
    let point = tJudged === tPoint ? student : studentToSigma(tPoint, nEff - 1);
    if (floored && Math.abs(knownPoint) < Math.abs(point)) point = knownPoint;
    out.reported = sigma;
    if (anomalous) {
      let reported = Math.abs(point);
      const lifted = Math.min(Math.abs(sigma), p.threshold);
      if (reported < lifted) reported = lifted;
      if (reported > p.maxSigma) reported = p.maxSigma;
      out.reported = sigma < 0 ? -reported : reported;
    }

    // The CUSUM sums the points' own deviations. The short mean is already a sum over the last few samples:
    // adding its deviation on every sample counted each sample about 1/shortAlpha times over, so a few
    // ordinary 2σ calls after one large one (a log-normal tail) read as a sustained shift and corroborated
    // a false quarantine (issue 13's fleet simulation: 18 of 18 false quarantines).
    const pointMagnitude = p.twoSided ? Math.abs(point) : point;
    let sum = stats[at + EVIDENCE]! + Math.min(pointMagnitude, p.evidenceCap) - p.evidenceSlack;
    if (sum < 0) sum = 0;
    if (sum >= p.evidenceAlarm) {
      sum = p.evidenceAlarm;
      out.sustained = true;
    }
    stats[at + EVIDENCE] = Math.fround(sum);

    const quiet = stats[at + QUIET]!;
    if (anomalous && quiet === 0) {
      out.alarm = true;
      out.onset = true;
      stats[at + QUIET] = p.quiet;
    } else if (quiet > 0) {
      stats[at + QUIET] = quiet - 1;
    }
    if (out.sustained) out.alarm = true;

    // A run of samples on one side, started by an anomalous one and carried on while they stay past half
    // the threshold, is a level shift; persisting for `acceptAfter` samples it is the new normal.
    const run = stats[at + RUN]!;
    const side = sigma >= 0 ? 1 : -1;
    // The run's level is a short EWMA of the raw samples (the winsorised ones stop at 4 sd).
    if (run !== 0 && (anomalous || magnitude >= p.threshold / 2) && run * side > 0) {
      stats[at + RUN] = run + side;
      stats[at + RUN_LEVEL] = stats[at + RUN_LEVEL]! + as * (y - stats[at + RUN_LEVEL]!);
    } else if (anomalous) {
      stats[at + RUN] = side;
      stats[at + RUN_LEVEL] = y;
    } else {
      // The level of a run that ended is never read again; zeroed, it is not checkpointed either.
      stats[at + RUN] = 0;
      stats[at + RUN_LEVEL] = 0;
    }
    const length = Math.abs(stats[at + RUN]!);
    if (p.acceptAfter > 0 && length >= p.acceptAfter) {
      const level = stats[at + RUN_LEVEL]!;
      stats[at + MEAN] = level;
      stats[at + SHORT] = level;
      stats[at + EVIDENCE] = 0;
      stats[at + RUN] = 0;
      stats[at + RUN_LEVEL] = 0;
      stats[at + QUIET] = 0;
      out.accepted = true;
      trackRange(stats, at, y);
      return out;
    }
  }

  // Learning: the weighted Welford update (Finch 2009) of a winsorised sample, with 1/n weights while young,
  // except for a sample just judged anomalous: it is learned at the long-memory weight, as a mature baseline
  // learns it. At 1/n its winsorised 4 sd would add 16/n of the variance (80 % at n = 20), so a young
  // baseline would absorb an episode within a few samples and its second and third anomalous vitals would
  // no longer look anomalous; a lasting new level is taken over by the level-shift acceptance instead.
  const next = n + 1;
  const base = adapting ? adaptAlpha : p.alpha;
  const a = out.anomalous && !adapting ? base : Math.max(base, 1 / next);
  const diff = x - mean;
  const newMean = mean + a * diff;
  stats[at + MEAN] = newMean;
  stats[at + VAR] = Math.fround((1 - a) * (stats[at + VAR]! + diff * (a * diff)));
  stats[at + COUNT] = next;
  stats[at + SHORT] = short;
  let d = short - newMean;
  const shortVar = stats[at + SHORT_VAR]!;
  if (!adapting && n >= p.minSamples) {
    const bound = p.winsor * Math.sqrt(Math.max(shortVar, (variance * as) / (2 - as)));
    if (d > bound) d = bound;
    else if (d < -bound) d = -bound;
  }
  stats[at + SHORT_VAR] = Math.fround((1 - a) * shortVar + a * d * d);
  trackRange(stats, at, y);
  return out;
}

function trackRange(stats: Float64Array, at: number, y: number): void {
  if (y < stats[at + LOW]!) stats[at + LOW] = y;
  if (y > stats[at + HIGH]!) stats[at + HIGH] = y;
}

/**
 * The deviation statistic of one sample: the larger of the point's (`zPoint`, against `variance`) and the
 * short mean's (against its own learned spread, never below what independent noise of `variance` would give
 * it). The short mean corroborates a point that is itself past half the threshold on the same side: once an
 * excursion is over, its echo in the short mean is not a new anomaly.
 */
function judgeT(
  zPoint: number,
  shortDiff: number,
  variance: number,
  learnedShortVar: number,
  widen: number,
  as: number,
  p: BaselineParams,
): number {
  let shortVar = learnedShortVar;
  const iid = (variance * as) / (2 - as);
  if (shortVar < iid) shortVar = iid;
  const zShort = deviation(shortDiff, shortVar * widen);
  const half = p.threshold / 2;
  if (zShort > zPoint && zPoint >= half) return zShort;
  if (p.twoSided && zShort < zPoint && zPoint <= -half) return zShort;
  return zPoint;
}

/** diff / √variance, with a zero spread making any difference maximal and none zero. */
function deviation(diff: number, variance: number): number {
  if (variance > 0) return diff / Math.sqrt(variance);
  if (diff === 0) return 0;
  return diff > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

/** Forgets the episode state of one baseline (evidence, quiet period, shift run), keeping what was learned. */
export function resetBaselineEpisode(stats: Float64Array, at: number): void {
  stats[at + EVIDENCE] = 0;
  stats[at + QUIET] = 0;
  stats[at + RUN] = 0;
  stats[at + RUN_LEVEL] = 0;
}

export function baselineMean(stats: Float64Array, at: number): number {
  return stats[at + MEAN]!;
}

export function baselineVariance(stats: Float64Array, at: number): number {
  return stats[at + VAR]!;
}

export function baselineCount(stats: Float64Array, at: number): number {
  return stats[at + COUNT]!;
}
