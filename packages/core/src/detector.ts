import Type, { type Static } from 'typebox';
import type { Anomaly, AnomalyType } from './anomaly.js';
import { EWMA_SLOTS, ewmaCount, ewmaMean, ewmaUpdate, ewmaVariance } from './ewma.js';
import { fnv1a } from './hash.js';
import { BASELINE_METRICS, type BaselineMetric, type Vital } from './vital.js';

export interface DetectorConfig {
  /** Steady-state EWMA weight of a new sample in a baseline's mean. */
  alpha: number;
  /**
   * Steady-state EWMA weight of a new sample in a baseline's variance. Smaller than `alpha`: the centre must
   * follow drift, but a 5σ tail is only as trustworthy as the spread it is measured in.
   */
  varianceAlpha: number;
  /** EWMA weight while adapting to a new normal after a successful healing. */
  adaptAlpha: number;
  /** How many vitals the faster adaptation lasts. */
  adaptSamples: number;
  /** Vitals needed before a baseline is usable; until then nothing is judged. */
  minSamples: number;
  /** σ at or above which each anomaly type fires (prompt_change uses `promptChangeSigma` instead). */
  thresholds: Record<Exclude<AnomalyType, 'prompt_change'>, number>;
  /**
   * Smallest relative change that counts as one σ on the log-judged metrics (tokens, latency, cost): their
   * standard deviation on the log scale is floored at log(1 + relativeSigmaFloor).
   */
  relativeSigmaFloor: number;
  /**
   * Standard deviation floor on the judged (transformed) scale of each metric. For `tool_calls`, judged as
   * 2·√(x + 3/8) (Anscombe), 1 is one Poisson standard deviation; for the log-judged metrics it is in log
   * units (0: only the relative floor applies).
   */
  absoluteSigmaFloor: Record<BaselineMetric, number>;
  /**
   * Sustained evidence (a one-sided CUSUM per metric on the judged σ), in multiples of the type's threshold
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
  alpha: 0.02,
  varianceAlpha: 0.01,
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
  relativeSigmaFloor: 0.1,
  absoluteSigmaFloor: {
    total_tokens: 0,
    input_tokens: 0,
    output_tokens: 0,
    latency_ms: 0,
    tool_calls: 1,
    cost: 0,
  },
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
    absoluteSigmaFloor: { ...DEFAULT_DETECTOR_CONFIG.absoluteSigmaFloor, ...overrides.absoluteSigmaFloor },
  };
  if (!(config.windowSize >= 1 && config.windowSize <= 30 && Number.isInteger(config.windowSize))) {
    throw new RangeError('detector: windowSize must be an integer in 1..30');
  }
  if (
    !(
      config.alpha > 0 &&
      config.alpha <= 1 &&
      config.varianceAlpha > 0 &&
      config.varianceAlpha <= 1 &&
      config.adaptAlpha > 0 &&
      config.adaptAlpha <= 1
    )
  ) {
    throw new RangeError('detector: alpha, varianceAlpha and adaptAlpha must be in (0, 1]');
  }
  if (!(config.evidenceSlack >= 0 && config.evidenceCap > config.evidenceSlack && config.evidenceAlarm > 0)) {
    throw new RangeError('detector: evidenceCap must exceed evidenceSlack >= 0, and evidenceAlarm be > 0');
  }
  if (!(config.minSamples >= 1 && config.maxPromptHashes >= 1)) {
    throw new RangeError('detector: minSamples and maxPromptHashes must be at least 1');
  }
  return config;
}

const METRIC_ANOMALY: Record<BaselineMetric, Exclude<AnomalyType, 'prompt_change'>> = {
  total_tokens: 'token_spike',
  input_tokens: 'input_token_spike',
  output_tokens: 'output_token_spike',
  latency_ms: 'latency_spike',
  tool_calls: 'tool_explosion',
  cost: 'cost_spike',
};

/**
 * The scale each metric is judged on. Token counts, latency and cost are positive, right-skewed and vary
 * multiplicatively (a long answer is long in tokens, time and money at once), so they are judged on a log
 * scale, where their noise is close to Gaussian and a deviation is a ratio. Tool calls are counts, roughly
 * Poisson, so they get Anscombe's variance-stabilising transform 2·√(x + 3/8), whose standard deviation is
 * about 1 whatever the rate. On the raw scale both kinds have tails far heavier than a Gaussian's, which made
 * "5σ" an everyday event.
 */
enum Scale {
  /** log(1 + x): token counts, which may be 0. */
  Log1p = 0,
  /** log(x): latency and cost; a value ≤ 0 carries no information on this scale and is skipped. */
  Log = 1,
  /** 2·√(x + 3/8): counts. */
  Anscombe = 2,
}

const METRIC_SCALE: Record<BaselineMetric, Scale> = {
  total_tokens: Scale.Log1p,
  input_tokens: Scale.Log1p,
  output_tokens: Scale.Log1p,
  latency_ms: Scale.Log,
  tool_calls: Scale.Anscombe,
  cost: Scale.Log,
};

/** `typed[from, to)` as a plain array, without the iterator protocol `Array.from` goes through. */
function slice(typed: Float64Array | Uint32Array, from: number, to: number): number[] {
  const out = new Array<number>(to - from);
  for (let i = from; i < to; i++) out[i - from] = typed[i]!;
  return out;
}

/** The judged value of `x`, or NaN when it cannot be placed on the metric's scale. */
function toScale(scale: Scale, x: number): number {
  if (scale === Scale.Log) return x > 0 ? Math.log(x) : Number.NaN;
  if (!(x >= 0)) return Number.NaN;
  return scale === Scale.Log1p ? Math.log1p(x) : 2 * Math.sqrt(x + 0.375);
}

/** A judged-scale centre back in the metric's unit: the typical value (geometric mean for the log scales). */
function fromScale(scale: Scale, y: number): number {
  if (scale === Scale.Log) return Math.exp(y);
  if (scale === Scale.Log1p) return Math.expm1(y);
  const half = y / 2;
  return Math.max(0, half * half - 0.375);
}

const METRIC_COUNT = BASELINE_METRICS.length;
const ERROR_AT = METRIC_COUNT * EWMA_SLOTS;
const RETRY_AT = ERROR_AT + EWMA_SLOTS;
const STATS_LENGTH = RETRY_AT + EWMA_SLOTS;
/** The sustained-evidence sums follow the baselines in the same array: one allocation per detector. */
const EVIDENCE_AT = STATS_LENGTH;
const LATENCY_INDEX = BASELINE_METRICS.indexOf('latency_ms');
const SCALES = BASELINE_METRICS.map((m) => METRIC_SCALE[m]);
const TYPES = BASELINE_METRICS.map((m) => METRIC_ANOMALY[m]);
const TYPE_INDEX = new Map<AnomalyType, number>(TYPES.map((type, i) => [type, i]));
const NO_ANOMALIES: readonly Anomaly[] = Object.freeze([]);

const DetectorSnapshotV1 = Type.Object(
  {
    v: Type.Literal(1),
    samples: Type.Integer({ minimum: 0 }),
    adapt_remaining: Type.Integer({ minimum: 0 }),
    stats: Type.Array(Type.Number(), { minItems: STATS_LENGTH, maxItems: STATS_LENGTH }),
    error_bits: Type.Integer(),
    retry_bits: Type.Integer(),
    window_fill: Type.Integer({ minimum: 0 }),
    prompts: Type.Array(Type.Integer({ minimum: 0 })),
    prompt_next: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

const DetectorSnapshotV2 = Type.Object(
  {
    v: Type.Literal(2),
    samples: Type.Integer({ minimum: 0 }),
    adapt_remaining: Type.Integer({ minimum: 0 }),
    /** Per metric [mean, variance, count] on its judged scale, then the error and retry rates. */
    stats: Type.Array(Type.Number(), { minItems: STATS_LENGTH, maxItems: STATS_LENGTH }),
    /** Sustained evidence per metric (the CUSUM sums). */
    evidence: Type.Array(Type.Number({ minimum: 0 }), { minItems: METRIC_COUNT, maxItems: METRIC_COUNT }),
    error_bits: Type.Integer(),
    retry_bits: Type.Integer(),
    window_fill: Type.Integer({ minimum: 0 }),
    prompts: Type.Array(Type.Integer({ minimum: 0 })),
    prompt_next: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/**
 * The serialisable form of one agent's detector state: what the sentinel checkpoints to Postgres. Version 1
 * held raw-scale baselines; it is still accepted and converted by moment matching (see `restore`), so an
 * upgrade does not re-open a warm-up. Snapshots are written as version 2.
 */
export const DetectorSnapshot = Type.Union([DetectorSnapshotV1, DetectorSnapshotV2]);
export type DetectorSnapshot = Static<typeof DetectorSnapshot>;

/**
 * One agent's baseline and detector. `observe` judges a vital against what was learned before it, then
 * learns from it unless it was anomalous, so an infection never becomes the new normal. O(1) per vital and
 * allocation-free unless something is anomalous. Keep one per agent and vital kind: an MCP tool call and an
 * LLM call have different normals.
 *
 * Each metric is judged on its own scale (see `Scale`), as σ = (y − mean) / sd there, where sd is the
 * predictive standard deviation: the learned spread (floored) widened by the uncertainty of the learned
 * mean, so a young baseline is not over-trusted. Besides the per-vital σ, every metric keeps sustained
 * evidence (a CUSUM); `sustained(type)` says whether it was over its alarm level on the last vital. A
 * one-off spike is an anomaly; a shift that persists over several vitals is sustained.
 */
export class AgentDetector {
  private readonly stats = new Float64Array(STATS_LENGTH + METRIC_COUNT);
  /** Per metric: squared σ floor, then evidence slack, cap and alarm (see `metricParams`). */
  private readonly params: Float64Array;
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
  /** Largest effective sample count of a baseline at the steady-state alpha. */
  private readonly maxEffective: number;

  constructor(private readonly config: DetectorConfig = DEFAULT_DETECTOR_CONFIG) {
    this.prompts = new Uint32Array(config.maxPromptHashes);
    this.windowMask = 2 ** config.windowSize - 1;
    this.maxEffective = (2 - config.alpha) / config.alpha;
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
   * the sustained sums, and the error and retry windows, which would otherwise still hold the calls that got
   * the agent quarantined and flag it again on its first vital back. The windows refill from fresh vitals.
   */
  resetEvidence(): void {
    this.stats.fill(0, EVIDENCE_AT);
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
    const at = BASELINE_METRICS.indexOf(metric) * EWMA_SLOTS;
    const mean = ewmaMean(this.stats, at);
    return {
      mean,
      sd: Math.sqrt(ewmaVariance(this.stats, at)),
      n: ewmaCount(this.stats, at),
      typical: fromScale(METRIC_SCALE[metric], mean),
    };
  }

  /** Error and retry rates: the learned baseline and the current window. */
  rates(): { errorBaseline: number; retryBaseline: number; errorWindow: number; retryWindow: number } {
    const fill = this.windowFill || 1;
    return {
      errorBaseline: ewmaMean(this.stats, ERROR_AT),
      retryBaseline: ewmaMean(this.stats, RETRY_AT),
      errorWindow: popcount(this.errorBits & this.windowMask) / fill,
      retryWindow: popcount(this.retryBits & this.windowMask) / fill,
    };
  }

  /** Judges `vital` against the baseline, then learns from what was normal in it. */
  observe(vital: Vital): readonly Anomaly[] {
    const config = this.config;
    const stats = this.stats;
    const warm = this.samplesSeen >= config.minSamples;
    const adapting = this.adaptRemaining > 0;
    const alpha = adapting ? config.adaptAlpha : config.alpha;
    const varianceAlpha = adapting ? config.adaptAlpha : config.varianceAlpha;
    const params = this.params;
    let sustainedBits = 0;
    let anomalies: Anomaly[] | undefined;

    // Failed calls carry no meaningful token counts, so only their latency (timeouts) is judged, and
    // metric baselines learn from successful calls only.
    for (let i = 0; i < METRIC_COUNT; i++) {
      if (!vital.success && i !== LATENCY_INDEX) continue;
      const metric = BASELINE_METRICS[i]!;
      const x = vital[metric];
      const y = toScale(SCALES[i]!, x);
      if (Number.isNaN(y)) continue;
      const at = i * EWMA_SLOTS;
      const n = stats[at + 2]!;
      let anomalous = false;
      if (warm && n >= config.minSamples) {
        const mean = stats[at]!;
        let variance = stats[at + 1]!;
        const floor2 = params[i]!;
        if (variance < floor2) variance = floor2;
        // Predictive spread: a new value differs from the learned mean by its own noise plus the mean's
        // error, whose variance is about variance / n_eff.
        const nEff = Math.min(n, this.maxEffective);
        let sigma = (y - mean) / Math.sqrt(variance * (1 + 1 / nEff));
        if (sigma > config.maxSigma) sigma = config.maxSigma;
        else if (sigma < -config.maxSigma) sigma = -config.maxSigma;
        const alarm = params[ALARM_AT + i]!;
        let sum = stats[EVIDENCE_AT + i]! + Math.min(sigma, params[CAP_AT + i]!) - params[SLACK_AT + i]!;
        if (sum < 0) sum = 0;
        const sustained = sum >= alarm;
        if (sustained) {
          sum = alarm;
          sustainedBits |= 1 << i;
        }
        stats[EVIDENCE_AT + i] = sum;
        const type = TYPES[i]!;
        // Halfway to the alarm a shift is building up: learning it would walk the baseline towards it (and
        // widen it) before it is flagged. Healthy noise gets this far about once in 1e5 vitals.
        if (sum >= alarm / 2) anomalous = true;
        if (sustained || sigma >= config.thresholds[type]) {
          anomalous = true;
          anomalies ??= [];
          anomalies.push({ type, metric, observed: x, expected: fromScale(SCALES[i]!, mean), sigma });
        }
      }
      if (vital.success && (adapting || !anomalous)) ewmaUpdate(stats, at, y, alpha, varianceAlpha);
    }
    this.sustainedBits = sustainedBits;

    // The window's rates are compared with a baseline learned from the vitals *before* the window: each bit
    // is learned as it leaves the window, so a burst is never half-learned while it is being judged. Bits that
    // entered during warm-up were learned on arrival, so there is a usable rate from the first judgement on.
    // A bit leaves only a full window; after `resetEvidence` the emptied slots are not calls to learn from.
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
      ewmaUpdate(this.stats, ERROR_AT, errorBit, alpha);
      ewmaUpdate(this.stats, RETRY_AT, retryBit, alpha);
    } else if (learnExiting) {
      if (adapting || !errorAnomalous) ewmaUpdate(this.stats, ERROR_AT, errorExit, alpha);
      if (adapting || !retryAnomalous) ewmaUpdate(this.stats, RETRY_AT, retryExit, alpha);
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
    const p = ewmaMean(this.stats, at);
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
      v: 2,
      samples: this.samplesSeen,
      adapt_remaining: this.adaptRemaining,
      stats: slice(this.stats, 0, STATS_LENGTH),
      evidence: slice(this.stats, EVIDENCE_AT, this.stats.length),
      error_bits: this.errorBits,
      retry_bits: this.retryBits,
      window_fill: this.windowFill,
      prompts: slice(this.prompts, 0, this.promptCount),
      prompt_next: this.promptNext,
    };
  }

  static restore(
    snapshot: DetectorSnapshot,
    config: DetectorConfig = DEFAULT_DETECTOR_CONFIG,
  ): AgentDetector {
    const detector = new AgentDetector(config);
    if (snapshot.v === 2) {
      detector.stats.set(snapshot.stats);
      detector.stats.set(snapshot.evidence, EVIDENCE_AT);
    } else {
      detector.stats.set(snapshot.stats);
      convertRawBaselines(detector.stats);
    }
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

const SLACK_AT = METRIC_COUNT;
const CAP_AT = 2 * METRIC_COUNT;
const ALARM_AT = 3 * METRIC_COUNT;
const PARAMS = new WeakMap<DetectorConfig, Float64Array>();

/**
 * Per metric, derived once per config and shared by every detector using it: the squared σ floor on the
 * metric's judged scale, and the sustained-evidence slack, cap and alarm in σ (multiples of its threshold).
 */
function metricParams(config: DetectorConfig): Float64Array {
  let params = PARAMS.get(config);
  if (params === undefined) {
    params = new Float64Array(4 * METRIC_COUNT);
    const logFloor = Math.log1p(config.relativeSigmaFloor);
    for (let i = 0; i < METRIC_COUNT; i++) {
      const metric = BASELINE_METRICS[i]!;
      const floor = Math.max(config.absoluteSigmaFloor[metric], SCALES[i] === Scale.Anscombe ? 0 : logFloor);
      const threshold = config.thresholds[TYPES[i]!];
      params[i] = floor * floor;
      params[SLACK_AT + i] = config.evidenceSlack * threshold;
      params[CAP_AT + i] = config.evidenceCap * threshold;
      params[ALARM_AT + i] = config.evidenceAlarm * threshold;
    }
    PARAMS.set(config, params);
  }
  return params;
}

/**
 * Version-1 snapshots held each metric's mean m and variance v on the raw scale. The judged-scale moments
 * follow by moment matching: for a log-normal, σ² = log(1 + v/m²) and μ = log m − σ²/2; for the Anscombe
 * transform, the delta method gives mean 2·√(m + 3/8) and variance v / (m + 3/8). A metric with no usable
 * mean starts learning again (count 0) and is judged once it has `minSamples` of its own.
 */
function convertRawBaselines(stats: Float64Array): void {
  for (let i = 0; i < METRIC_COUNT; i++) {
    const at = i * EWMA_SLOTS;
    const scale = SCALES[i]!;
    const m = stats[at]! + (scale === Scale.Log1p ? 1 : 0);
    const v = stats[at + 1]!;
    if (scale === Scale.Anscombe) {
      const shifted = Math.max(m, 0) + 0.375;
      stats[at] = 2 * Math.sqrt(shifted);
      stats[at + 1] = v / shifted;
    } else if (m > 0 && Number.isFinite(v)) {
      const s2 = Math.log1p(v / (m * m));
      stats[at] = Math.log(m) - s2 / 2;
      stats[at + 1] = s2;
    } else {
      stats[at] = 0;
      stats[at + 1] = 0;
      stats[at + 2] = 0;
    }
  }
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

/**
 * z such that a standard Gaussian exceeds z with probability `tail`: Acklam's rational approximation of the
 * normal quantile (relative error about 1e-9), which stays accurate far into the tail.
 */
export function upperTailSigma(tail: number): number {
  if (!(tail > 0)) return Number.POSITIVE_INFINITY;
  if (tail >= 1) return Number.NEGATIVE_INFINITY;
  const p = tail;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return -(
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
        2.549732539343734) *
        q +
        4.374664141464968) *
        q +
        2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) *
        q +
        1)
    );
  }
  if (p > 1 - 0.02425) return -upperTailSigma(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return -(
    ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r +
      1.38357751867269e2) *
      r -
      3.066479806614716e1) *
      r +
      2.506628277459239) *
      q) /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r +
      6.680131188771972e1) *
      r -
      1.328068155288572e1) *
      r +
      1)
  );
}

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
