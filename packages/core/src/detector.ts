import Type, { type Static } from 'typebox';
import { type Anomaly, type AnomalyType, BASELINE_METRIC_ANOMALY } from './anomaly.js';
import { fnv1a } from './hash.js';
import {
  BASELINE_FIELDS,
  BASELINE_SLOTS,
  type BaselineParams,
  type BaselineVerdict,
  baselineCount,
  baselineMean,
  baselineVariance,
  newVerdict,
  observeBaseline,
  resetBaselineEpisode,
} from './metric-baseline.js';
import { SlotCodec, type SlotField } from './slot-codec.js';
import { upperTailSigma } from './tail.js';
import { BASELINE_METRICS, type BaselineMetric, type Vital } from './vital.js';

export interface DetectorConfig {
  /**
   * Long-memory weight of a new sample in each metric's mean and variance (≈ 1/1000: a whole daily cycle is
   * "normal"). Every sample is learned, winsorised at ±`winsor` sd.
   */
  alpha: number;
  /** Weight of a sample in each metric's short mean, whose deviation is judged besides the point's. */
  shortAlpha: number;
  /** Bound on one sample's influence on the baseline, in sd. */
  winsor: number;
  /** EWMA weight of the error and retry rate baselines. */
  rateAlpha: number;
  /** EWMA weight while adapting to a new normal after a successful healing. */
  adaptAlpha: number;
  /** How many vitals the faster adaptation lasts. */
  adaptSamples: number;
  /** Vitals needed before a baseline is usable; until then nothing is judged. */
  minSamples: number;
  /**
   * σ-equivalent (the Gaussian tail of the same probability) at or above which each anomaly type fires;
   * prompt_change uses `promptChangeSigma` instead. Decisions are on that tail probability: a young
   * baseline's deviations are Student-t, so the same threshold means the same false-alarm rate.
   */
  thresholds: Record<Exclude<AnomalyType, 'prompt_change'>, number>;
  /**
   * Noise floor (sd) on each metric's judged scale, independent of the metric's level: log units for the
   * log-judged metrics (0.0953 = a 10 % change), Poisson standard deviations on the Anscombe scale for counts.
   */
  sigmaFloor: Record<BaselineMetric, number>;
  /**
   * Vitals a metric stays quiet after an alarm (its sustained state is still reported). 0 for agents: there
   * the lifecycle is the episode (one HEALTHY→SUSPECTED per episode) and its corroboration counts the
   * anomalous vitals; `SeriesDetector`, which has no lifecycle, uses `acceptShiftAfter`.
   */
  quietSamples: number;
  /** Vitals a level shift must persist, once flagged, to become the new normal (0: never). */
  acceptShiftAfter: number;
  /** A value beyond the range seen so far by this multiple of the range is novel (0: off). */
  noveltyMargin: number;
  /**
   * Sustained evidence (a one-sided CUSUM per metric on each vital's own judged σ, not the short mean's), in multiples of the type's threshold
   * T: each judged vital adds min(σ, evidenceCap·T) − evidenceSlack·T, the sum never drops below 0, and
   * reaching evidenceAlarm·T marks the metric as sustained-anomalous. With the cap below slack + alarm one
   * vital, however extreme, is never enough on its own; a higher threshold makes both paths stricter.
   */
  evidenceSlack: number;
  evidenceCap: number;
  evidenceAlarm: number;
  /** Vitals in the recent window used for error and retry rates (at most 30). */
  windowSize: number;
  /** Vitals the window must hold before a rate is judged. */
  minWindowSamples: number;
  /** A rate anomaly also needs the windowed rate to be at least this. */
  minErrorRate: number;
  minRetryRate: number;
  /** Floor on the baseline rate when computing a rate's standard deviation. */
  rateFloor: number;
  /** σ reported for a prompt hash outside the learned set. */
  promptChangeSigma: number;
  /** Distinct prompt hashes an agent may legitimately use. */
  maxPromptHashes: number;
  /** Cap on any reported σ. */
  maxSigma: number;
}

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = {
  alpha: 0.002,
  shortAlpha: 0.2,
  winsor: 4,
  rateAlpha: 0.02,
  adaptAlpha: 0.3,
  adaptSamples: 30,
  minSamples: 15,
  thresholds: {
    token_spike: 3,
    input_token_spike: 3,
    output_token_spike: 3,
    latency_spike: 3,
    tool_explosion: 3,
    cost_spike: 3,
    high_retry_rate: 3,
    error_rate_spike: 3,
  },
  sigmaFloor: {
    total_tokens: Math.log1p(0.1),
    input_tokens: Math.log1p(0.1),
    output_tokens: Math.log1p(0.1),
    latency_ms: Math.log1p(0.1),
    tool_calls: 1,
    cost: Math.log1p(0.1),
  },
  quietSamples: 0,
  acceptShiftAfter: 50,
  noveltyMargin: 1,
  evidenceSlack: 0.5,
  evidenceCap: 2,
  evidenceAlarm: 2.5,
  windowSize: 20,
  minWindowSamples: 5,
  minErrorRate: 0.3,
  minRetryRate: 0.3,
  rateFloor: 0.02,
  promptChangeSigma: 4,
  maxPromptHashes: 8,
  maxSigma: 1000,
};

/** Merges a partial config (as read from env or a file) over the defaults. */
export function detectorConfig(overrides: Partial<DetectorConfig> = {}): DetectorConfig {
  const config: DetectorConfig = {
    ...DEFAULT_DETECTOR_CONFIG,
    ...overrides,
    thresholds: { ...DEFAULT_DETECTOR_CONFIG.thresholds, ...overrides.thresholds },
    sigmaFloor: { ...DEFAULT_DETECTOR_CONFIG.sigmaFloor, ...overrides.sigmaFloor },
  };
  if (!(config.windowSize >= 1 && config.windowSize <= 30 && Number.isInteger(config.windowSize))) {
    throw new RangeError('detector: windowSize must be an integer in 1..30');
  }
  for (const name of ['alpha', 'shortAlpha', 'rateAlpha', 'adaptAlpha'] as const) {
    if (!(config[name] > 0 && config[name] <= 1)) throw new RangeError(`detector: ${name} must be in (0, 1]`);
  }
  if (!(config.evidenceSlack >= 0 && config.evidenceCap > config.evidenceSlack && config.evidenceAlarm > 0)) {
    throw new RangeError('detector: evidenceCap must exceed evidenceSlack >= 0, and evidenceAlarm be > 0');
  }
  if (!(config.minSamples >= 1 && config.maxPromptHashes >= 1)) {
    throw new RangeError('detector: minSamples and maxPromptHashes must be at least 1');
  }
  if (!(config.winsor > 0 && config.quietSamples >= 0 && config.acceptShiftAfter >= 0)) {
    throw new RangeError('detector: winsor must be > 0, quietSamples and acceptShiftAfter >= 0');
  }
  return config;
}

/**
 * The scale each metric is judged on. Token counts, latency and cost are positive, right-skewed and vary
 * multiplicatively (a long answer is long in tokens, time and money at once), so they are judged on a log
 * scale, where their noise is close to Gaussian and a deviation is a ratio. Tool calls are counts, roughly
 * Poisson, so they get Anscombe's variance-stabilising transform 2·√(x + 3/8), whose standard deviation is
 * about 1 whatever the rate. On the raw scale both kinds have tails far heavier than a Gaussian's, which made
 * "5σ" an everyday event.
 */
export enum Scale {
  /** log(1 + x): token counts, which may be 0. */
  Log1p = 0,
  /** log(x): latency and cost; a value ≤ 0 carries no information on this scale and is skipped. */
  Log = 1,
  /** 2·√(x + 3/8): counts. */
  Anscombe = 2,
  /** The value itself: a generic series of unknown kind (`SeriesDetector`). */
  Raw = 3,
}

const METRIC_SCALE: Record<BaselineMetric, Scale> = {
  total_tokens: Scale.Log1p,
  input_tokens: Scale.Log1p,
  output_tokens: Scale.Log1p,
  latency_ms: Scale.Log,
  tool_calls: Scale.Anscombe,
  cost: Scale.Log,
};

/** The judged value of `x`, or NaN when it cannot be placed on the metric's scale. */
export function toScale(scale: Scale, x: number): number {
  if (scale === Scale.Log) return x > 0 ? Math.log(x) : Number.NaN;
  if (scale === Scale.Raw) return x;
  if (!(x >= 0)) return Number.NaN;
  return scale === Scale.Log1p ? Math.log1p(x) : 2 * Math.sqrt(x + 0.375);
}

/** A judged-scale centre back in the metric's unit: the typical value (geometric mean for the log scales). */
export function fromScale(scale: Scale, y: number): number {
  if (scale === Scale.Log) return Math.exp(y);
  if (scale === Scale.Log1p) return Math.expm1(y);
  if (scale === Scale.Raw) return y;
  const half = y / 2;
  return Math.max(0, half * half - 0.375);
}

/** A baseline band in the metric's own unit: the typical value and the range within k σ of it. */
export interface UnitBand {
  typical: number;
  low: number;
  high: number;
}

/**
 * Turns a baseline on its judged scale (mean and sd, e.g. of log latency) back into the metric's unit for the
 * threshold `k`: mean ± k·sd mapped through the inverse of the scale. On the log scales the band is
 * asymmetric (a ratio either way); `high` is where a rise becomes anomalous.
 */
export function unitBand(scale: Scale, mean: number, sd: number, k: number): UnitBand {
  return {
    typical: fromScale(scale, mean),
    low: fromScale(scale, mean - k * sd),
    high: fromScale(scale, mean + k * sd),
  };
}

/** `unitBand` on the scale `metric` is judged on: what a stored judged-scale baseline is drawn with. */
export function metricUnitBand(metric: BaselineMetric, mean: number, sd: number, k: number): UnitBand {
  return unitBand(METRIC_SCALE[metric], mean, sd, k);
}

/** One metric's learned baseline as a dashboard draws it (see `AgentDetector.band`). */
export interface MetricBand extends UnitBand {
  /** The anomaly threshold (σ-equivalent) the band is drawn at. */
  k: number;
  /** Samples the baseline has learned. */
  samples: number;
  /** Fewer samples than the detector needs before it judges: the band is not yet what it decides on. */
  young: boolean;
}

const METRIC_COUNT = BASELINE_METRICS.length;
/**
 * An error or retry rate's baseline: an EWMA of 0/1 outcomes with 1/n weights while young. Its spread is not
 * kept: the rates are judged by the binomial tail of the window against the mean.
 */
const RATE_FIELDS = [
  { name: 'mean', encoding: 'f64' },
  { name: 'count', encoding: 'uint' },
] as const satisfies readonly SlotField[];
const RATE_SLOTS = RATE_FIELDS.length;
const ERROR_AT = METRIC_COUNT * BASELINE_SLOTS;
const RETRY_AT = ERROR_AT + RATE_SLOTS;
const STATS_LENGTH = RETRY_AT + RATE_SLOTS;
const LATENCY_INDEX = BASELINE_METRICS.indexOf('latency_ms');
const SCALES = BASELINE_METRICS.map((m) => METRIC_SCALE[m]);
const TYPES = BASELINE_METRICS.map((m) => BASELINE_METRIC_ANOMALY[m]);
const TYPE_INDEX = new Map<AnomalyType, number>(TYPES.map((type, i) => [type, i]));
const NO_ANOMALIES: readonly Anomaly[] = Object.freeze([]);

/** Packs the detector's slots for a checkpoint: each metric's baseline fields, then the rate baselines. */
const CODEC = new SlotCodec([
  ...BASELINE_METRICS.map((name) => ({ name, fields: BASELINE_FIELDS })),
  { name: 'error_rate', fields: RATE_FIELDS },
  { name: 'retry_rate', fields: RATE_FIELDS },
]);

/**
 * What `AgentDetector.judgement` writes per baseline metric, in `BASELINE_METRICS` order: the σ-equivalent
 * the last vital was judged at (NaN when it was not: a cold baseline, or a metric a failed call does not
 * carry), the baseline on the judged scale after learning it (mean, spread floored as the detector judges)
 * and the metric's anomaly threshold.
 */
export const JUDGEMENT_SLOTS = 4;
export const JUDGEMENT_LENGTH = METRIC_COUNT * JUDGEMENT_SLOTS;

/**
 * What the numbers of a checkpoint are, in order, and how each is stored. Its hash is written with every
 * snapshot, so a build with other metrics, fields or encodings refuses an old snapshot loudly instead of
 * reading shifted slots.
 */
export const DETECTOR_LAYOUT = CODEC.layout;
const LAYOUT_HASH = fnv1a(DETECTOR_LAYOUT);

/**
 * The serialisable form of one agent's detector state: what the sentinel checkpoints to Postgres. Every
 * number is named (per metric, per baseline field), so adding a metric or a field can never shift what a
 * restored agent reads: a snapshot of another layout fails validation, and `restore` refuses it loudly.
 */
export const DetectorSnapshot = Type.Object(
  {
    v: Type.Literal(3),
    samples: Type.Integer({ minimum: 0 }),
    adapt_remaining: Type.Integer({ minimum: 0 }),
    /** fnv1a of `DETECTOR_LAYOUT`. */
    layout: Type.Integer({ minimum: 0 }),
    /** The baselines, as base64 of the slots `DETECTOR_LAYOUT` names, zeros left out (see `SlotCodec`). */
    baselines: Type.String(),
    error_bits: Type.Integer(),
    retry_bits: Type.Integer(),
    window_fill: Type.Integer({ minimum: 0 }),
    prompts: Type.Array(Type.Integer({ minimum: 0 })),
    prompt_next: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type DetectorSnapshot = Static<typeof DetectorSnapshot>;

/**
 * One agent's baseline and detector. `observe` judges a vital against what was learned before it, then
 * learns from it (see `metric-baseline.ts` for the rules: every sample, winsorised, long memory). O(1) per
 * vital and allocation-free unless something is reported. Keep one per agent and vital kind: an MCP tool
 * call and an LLM call have different normals.
 *
 * Each metric is judged on its own scale (see `Scale`) as a calibrated tail probability, carried as its
 * σ-equivalent. Besides the per-vital σ, every metric keeps sustained evidence (a CUSUM);
 * `sustained(type)` says whether it was over its alarm level on the last vital. A one-off spike is reported
 * once per episode (then the metric is quiet for `quietSamples`); a shift that persists is sustained and
 * reported on every vital until it is acted on or accepted as the new normal.
 */
export class AgentDetector {
  private readonly stats = new Float64Array(STATS_LENGTH);
  private readonly params: readonly BaselineParams[];
  private readonly verdict = newVerdict();
  /** σ-equivalent each metric was judged at on the last vital, NaN when not judged. */
  private readonly judged = new Float64Array(METRIC_COUNT).fill(Number.NaN);
  private readonly prompts: Uint32Array;
  private promptCount = 0;
  private promptNext = 0;
  private errorBits = 0;
  private retryBits = 0;
  private windowFill = 0;
  private samplesSeen = 0;
  private adaptRemaining = 0;
  private sustainedBits = 0;
  private readonly windowMask: number;

  constructor(private readonly config: DetectorConfig = DEFAULT_DETECTOR_CONFIG) {
    this.prompts = new Uint32Array(config.maxPromptHashes);
    this.windowMask = 2 ** config.windowSize - 1;
    this.params = metricParams(config);
  }

  /** Vitals learned or judged so far. */
  get samples(): number {
    return this.samplesSeen;
  }

  /** Whether the baseline has enough samples to judge. */
  get warm(): boolean {
    return this.samplesSeen >= this.config.minSamples;
  }

  get adapting(): boolean {
    return this.adaptRemaining > 0;
  }

  /** After a successful healing: learn the next `samples` vitals fast and unconditionally. */
  adapt(samples = this.config.adaptSamples): void {
    this.adaptRemaining = samples;
    this.resetEvidence();
  }

  /**
   * Forgets the evidence of the current episode once it has been acted on (the agent drained) or released:
   * the sustained sums, quiet periods and shift runs, and the error and retry windows, which would otherwise
   * still hold the calls that got the agent quarantined and flag it again on its first vital back. The
   * windows refill from fresh vitals.
   */
  resetEvidence(): void {
    for (let i = 0; i < METRIC_COUNT; i++) resetBaselineEpisode(this.stats, i * BASELINE_SLOTS);
    this.sustainedBits = 0;
    this.errorBits = 0;
    this.retryBits = 0;
    this.windowFill = 0;
  }

  /** Whether the metric behind `type` was in sustained alarm on the last vital (false for other types). */
  sustained(type: AnomalyType): boolean {
    const index = TYPE_INDEX.get(type);
    return index !== undefined && (this.sustainedBits & (1 << index)) !== 0;
  }

  /**
   * One metric's baseline on its judged scale (mean, standard deviation, sample count), and `typical`: the
   * mean back in the metric's unit (a geometric mean for the log-judged metrics).
   */
  baseline(metric: BaselineMetric): { mean: number; sd: number; n: number; typical: number } {
    const at = BASELINE_METRICS.indexOf(metric) * BASELINE_SLOTS;
    const mean = baselineMean(this.stats, at);
    return {
      mean,
      sd: Math.sqrt(baselineVariance(this.stats, at)),
      n: baselineCount(this.stats, at),
      typical: fromScale(METRIC_SCALE[metric], mean),
    };
  }

  /**
   * One metric's baseline in its own unit at its anomaly threshold: the spread is the learned one, never
   * below the metric's noise floor, as the detector judges it (the Student-t widening of a young baseline
   * is left out; `young` says the baseline does not judge yet).
   */
  band(metric: BaselineMetric): MetricBand {
    const at = BASELINE_METRICS.indexOf(metric) * BASELINE_SLOTS;
    const floor = this.config.sigmaFloor[metric];
    const sd = Math.max(Math.sqrt(baselineVariance(this.stats, at)), floor);
    const k = this.config.thresholds[BASELINE_METRIC_ANOMALY[metric]];
    const samples = baselineCount(this.stats, at);
    return {
      ...unitBand(METRIC_SCALE[metric], baselineMean(this.stats, at), sd, k),
      k,
      samples,
      young: samples < this.config.minSamples,
    };
  }

  /**
   * Writes what the last `observe` judged into `out` (`JUDGEMENT_LENGTH` numbers, laid out as
   * `JUDGEMENT_SLOTS` describes): a history of σ and bands without allocating per vital.
   */
  judgement(out: Float64Array): void {
    for (let i = 0; i < METRIC_COUNT; i++) {
      const at = i * BASELINE_SLOTS;
      const o = i * JUDGEMENT_SLOTS;
      const params = this.params[i]!;
      out[o] = this.judged[i]!;
      out[o + 1] = baselineMean(this.stats, at);
      out[o + 2] = Math.max(Math.sqrt(baselineVariance(this.stats, at)), params.floor);
      out[o + 3] = params.threshold;
    }
  }

  /** Error and retry rates: the learned baseline and the current window. */
  rates(): { errorBaseline: number; retryBaseline: number; errorWindow: number; retryWindow: number } {
    const fill = this.windowFill || 1;
    return {
      errorBaseline: this.stats[ERROR_AT]!,
      retryBaseline: this.stats[RETRY_AT]!,
      errorWindow: popcount(this.errorBits & this.windowMask) / fill,
      retryWindow: popcount(this.retryBits & this.windowMask) / fill,
    };
  }

  /** Judges `vital` against the baseline, then learns from it. */
  observe(vital: Vital): readonly Anomaly[] {
    const config = this.config;
    const stats = this.stats;
    const warm = this.samplesSeen >= config.minSamples;
    const adapting = this.adaptRemaining > 0;
    const params = this.params;
    const verdict = this.verdict;
    let sustainedBits = 0;
    let anomalies: Anomaly[] | undefined;

    // Failed calls carry no meaningful token counts, so only their latency (timeouts) is judged, and
    // metric baselines learn from successful calls only.
    const judged = this.judged;
    for (let i = 0; i < METRIC_COUNT; i++) {
      judged[i] = Number.NaN;
      if (!vital.success && i !== LATENCY_INDEX) continue;
      const metric = BASELINE_METRICS[i]!;
      const x = metricOf(vital, metric);
      const y = toScale(SCALES[i]!, x);
      if (Number.isNaN(y)) continue;
      const at = i * BASELINE_SLOTS;
      const judging = warm && baselineCount(stats, at) >= config.minSamples;
      if (vital.success) {
        observeBaseline(stats, at, y, params[i]!, verdict, warm, adapting ? config.adaptAlpha : 0);
      } else {
        judgeOnly(stats, at, y, params[i]!, verdict, warm);
      }
      if (judging) judged[i] = verdict.reported;
      if (verdict.sustained) sustainedBits |= 1 << i;
      if (verdict.alarm) {
        anomalies ??= [];
        anomalies.push({
          type: TYPES[i]!,
          metric,
          observed: x,
          expected: fromScale(SCALES[i]!, verdict.expected),
          sigma: verdict.reported,
        });
      }
    }
    this.sustainedBits = sustainedBits;

    // The window's rates are compared with a baseline learned from the vitals *before* the window: each bit
    // is learned as it leaves the window, so a burst is never half-learned while it is being judged. Bits that
    // entered during warm-up were learned on arrival, so there is a usable rate from the first judgement on.
    // A bit leaves only a full window; after `resetEvidence` the emptied slots are not calls to learn from.
    const rateAlpha = adapting ? config.adaptAlpha : config.rateAlpha;
    const exitingIndex = this.samplesSeen - config.windowSize;
    const learnExiting = exitingIndex >= config.minSamples && this.windowFill === config.windowSize;
    const exitShift = config.windowSize - 1;
    const errorExit = (this.errorBits >>> exitShift) & 1;
    const retryExit = (this.retryBits >>> exitShift) & 1;
    const errorBit = vital.success ? 0 : 1;
    const retryBit = vital.retries > 0 ? 1 : 0;
    this.errorBits = ((this.errorBits << 1) | errorBit) & this.windowMask;
    this.retryBits = ((this.retryBits << 1) | retryBit) & this.windowMask;
    if (this.windowFill < config.windowSize) this.windowFill++;
    const beforeError = anomalies?.length ?? 0;
    anomalies = this.judgeRate(
      'error_rate_spike',
      'error_rate',
      ERROR_AT,
      this.errorBits,
      config.minErrorRate,
      warm,
      anomalies,
    );
    const errorAnomalous = (anomalies?.length ?? 0) !== beforeError;
    const beforeRetry = anomalies?.length ?? 0;
    anomalies = this.judgeRate(
      'high_retry_rate',
      'retry_rate',
      RETRY_AT,
      this.retryBits,
      config.minRetryRate,
      warm,
      anomalies,
    );
    const retryAnomalous = (anomalies?.length ?? 0) !== beforeRetry;
    if (!warm) {
      learnRate(this.stats, ERROR_AT, errorBit, rateAlpha);
      learnRate(this.stats, RETRY_AT, retryBit, rateAlpha);
    } else if (learnExiting) {
      if (adapting || !errorAnomalous) learnRate(this.stats, ERROR_AT, errorExit, rateAlpha);
      if (adapting || !retryAnomalous) learnRate(this.stats, RETRY_AT, retryExit, rateAlpha);
    }

    if (vital.prompt_hash !== undefined) {
      // Remembered as 32-bit numbers, which keeps the per-agent state small.
      const hash = fnv1a(vital.prompt_hash);
      if (!this.knowsPrompt(hash)) {
        if (warm && !adapting) {
          anomalies ??= [];
          anomalies.push({
            type: 'prompt_change',
            metric: 'prompt_hash',
            observed: hash,
            expected: this.promptCount,
            sigma: config.promptChangeSigma,
          });
        } else {
          this.learnPrompt(hash);
        }
      }
    }

    this.samplesSeen++;
    if (adapting) this.adaptRemaining--;
    return anomalies ?? NO_ANOMALIES;
  }

  private judgeRate(
    type: 'error_rate_spike' | 'high_retry_rate',
    metric: 'error_rate' | 'retry_rate',
    at: number,
    bits: number,
    minRate: number,
    warm: boolean,
    anomalies: Anomaly[] | undefined,
  ): Anomaly[] | undefined {
    const config = this.config;
    if (!warm || this.windowFill < config.minWindowSamples) return anomalies;
    const count = popcount(bits);
    const rate = count / this.windowFill;
    if (rate < minRate) return anomalies;
    const p = this.stats[at]!;
    // The exact binomial tail, as the σ of a Gaussian tail that is just as unlikely. The normal approximation
    // (rate − p) / √(p(1−p)/n) is far too generous for a rate of a few percent over 20 calls: it put 6 errors
    // in 20 at p = 2 % at 9σ, an event that in fact happens about once in half a million windows.
    const tail = binomialTail(count, this.windowFill, Math.max(p, config.rateFloor));
    const sigma = Math.min(upperTailSigma(tail), config.maxSigma);
    if (sigma < config.thresholds[type]) return anomalies;
    const found = anomalies ?? [];
    found.push({ type, metric, observed: rate, expected: p, sigma });
    return found;
  }

  private knowsPrompt(hash: number): boolean {
    for (let i = 0; i < this.promptCount; i++) if (this.prompts[i] === hash) return true;
    return false;
  }

  /** Keeps the most recent `maxPromptHashes` prompts, replacing the oldest when full. */
  private learnPrompt(hash: number): void {
    this.prompts[this.promptNext] = hash;
    this.promptNext = (this.promptNext + 1) % this.prompts.length;
    if (this.promptCount < this.prompts.length) this.promptCount++;
  }

  snapshot(): DetectorSnapshot {
    return {
      v: 3,
      samples: this.samplesSeen,
      adapt_remaining: this.adaptRemaining,
      layout: LAYOUT_HASH,
      baselines: CODEC.toBase64(this.stats),
      error_bits: this.errorBits,
      retry_bits: this.retryBits,
      window_fill: this.windowFill,
      prompts: slice(this.prompts, 0, this.promptCount),
      prompt_next: this.promptNext,
    };
  }

  /** Rebuilds a detector from `snapshot`; throws a RangeError when it was written with another layout. */
  static restore(
    snapshot: DetectorSnapshot,
    config: DetectorConfig = DEFAULT_DETECTOR_CONFIG,
  ): AgentDetector {
    if (snapshot.v !== 3 || snapshot.layout !== LAYOUT_HASH) {
      throw new RangeError(
        `detector snapshot: version ${String(snapshot.v)}, layout ${String(snapshot.layout)} is not this build's (3, ${LAYOUT_HASH}: ${DETECTOR_LAYOUT})`,
      );
    }
    const detector = new AgentDetector(config);
    CODEC.fromBase64(snapshot.baselines, detector.stats, 'detector snapshot baselines');
    detector.samplesSeen = snapshot.samples;
    detector.adaptRemaining = snapshot.adapt_remaining;
    detector.errorBits = snapshot.error_bits & detector.windowMask;
    detector.retryBits = snapshot.retry_bits & detector.windowMask;
    detector.windowFill = Math.min(snapshot.window_fill, config.windowSize);
    const prompts = snapshot.prompts.slice(-config.maxPromptHashes);
    detector.prompts.set(prompts);
    detector.promptCount = prompts.length;
    detector.promptNext =
      prompts.length === config.maxPromptHashes ? snapshot.prompt_next % prompts.length : prompts.length;
    return detector;
  }
}

/**
 * A failed call's latency is judged (a timeout is news) but not learned: only successful calls feed the
 * baselines. Judging on a scratch copy keeps the baseline itself untouched, episode state included.
 */
const SCRATCH = new Float64Array(BASELINE_SLOTS);
function judgeOnly(
  stats: Float64Array,
  at: number,
  y: number,
  params: BaselineParams,
  verdict: BaselineVerdict,
  warm: boolean,
): void {
  for (let k = 0; k < BASELINE_SLOTS; k++) SCRATCH[k] = stats[at + k]!;
  observeBaseline(SCRATCH, 0, y, params, verdict, warm);
  // The episode state (evidence, quiet period) does follow the failed call: a run of timeouts is one episode.
  stats[at + 5] = SCRATCH[5]!;
  stats[at + 8] = SCRATCH[8]!;
}

/**
 * `vital[metric]`, spelled out: a keyed read with six names at one site is megamorphic, and cost `observe` a
 * third of its time. A metric added to `BASELINE_METRICS` does not compile here until it is read.
 */
function metricOf(vital: Vital, metric: BaselineMetric): number {
  switch (metric) {
    case 'total_tokens':
      return vital.total_tokens;
    case 'input_tokens':
      return vital.input_tokens;
    case 'output_tokens':
      return vital.output_tokens;
    case 'latency_ms':
      return vital.latency_ms;
    case 'tool_calls':
      return vital.tool_calls;
    case 'cost':
      return vital.cost;
    default:
      return unread(metric);
  }
}

function unread(metric: never): never {
  throw new TypeError(`detector: metric ${String(metric)} is not read from vitals`);
}

/** One outcome (0 or 1) into a rate baseline: the mean at weight max(alpha, 1/n). */
function learnRate(stats: Float64Array, at: number, outcome: number, alpha: number): void {
  const n = stats[at + 1]! + 1;
  const a = Math.max(alpha, 1 / n);
  stats[at] = stats[at]! + a * (outcome - stats[at]!);
  stats[at + 1] = n;
}

const PARAMS = new WeakMap<DetectorConfig, readonly BaselineParams[]>();

/** Per metric, derived once per config and shared by every detector using it. */
function metricParams(config: DetectorConfig): readonly BaselineParams[] {
  let params = PARAMS.get(config);
  if (params === undefined) {
    params = BASELINE_METRICS.map((metric, i) => {
      const threshold = config.thresholds[TYPES[i]!];
      return {
        alpha: config.alpha,
        shortAlpha: config.shortAlpha,
        minSamples: config.minSamples,
        winsor: config.winsor,
        threshold,
        twoSided: false,
        floor: config.sigmaFloor[metric],
        quiet: config.quietSamples,
        acceptAfter: config.acceptShiftAfter,
        noveltyMargin: config.noveltyMargin,
        evidenceSlack: config.evidenceSlack * threshold,
        evidenceCap: config.evidenceCap * threshold,
        evidenceAlarm: config.evidenceAlarm * threshold,
        maxSigma: config.maxSigma,
      };
    });
    PARAMS.set(config, params);
  }
  return params;
}

/** `typed[from, to)` as a plain array, without the iterator protocol `Array.from` goes through. */
function slice(typed: Float64Array | Uint32Array, from: number, to: number): number[] {
  const out = new Array<number>(to - from);
  for (let i = from; i < to; i++) out[i - from] = typed[i]!;
  return out;
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed term by term (n ≤ 30 here). */
function binomialTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  const q = 1 - p;
  if (q <= 0) return 1;
  let choose = 1;
  for (let j = 0; j < k; j++) choose = (choose * (n - j)) / (j + 1);
  let term = choose * p ** k * q ** (n - k);
  let sum = 0;
  const ratio = p / q;
  for (let j = k; j <= n; j++) {
    sum += term;
    term *= ((n - j) / (j + 1)) * ratio;
  }
  return Math.min(sum, 1);
}

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
