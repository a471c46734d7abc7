import Type, { type Static } from 'typebox';
import type { Anomaly, AnomalyType } from './anomaly.js';
import { EWMA_SLOTS, ewmaCount, ewmaMean, ewmaSigma, ewmaUpdate, ewmaVariance } from './ewma.js';
import { BASELINE_METRICS, type BaselineMetric, type Vital } from './vital.js';

export interface DetectorConfig {
  /** Steady-state EWMA weight of a new sample. */
  alpha: number;
  /** EWMA weight while adapting to a new normal after a successful healing. */
  adaptAlpha: number;
  /** How many vitals the faster adaptation lasts. */
  adaptSamples: number;
  /** Vitals needed before a baseline is usable; until then nothing is judged. */
  minSamples: number;
  /** σ at or above which each anomaly type fires (prompt_change uses `promptChangeSigma` instead). */
  thresholds: Record<Exclude<AnomalyType, 'prompt_change'>, number>;
  /** Standard deviation floor as a fraction of the mean. */
  relativeSigmaFloor: number;
  /** Standard deviation floor in the metric's own unit; only counts have a natural unit. */
  absoluteSigmaFloor: Record<BaselineMetric, number>;
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
  alpha: 0.05,
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
  if (!(config.alpha > 0 && config.alpha <= 1 && config.adaptAlpha > 0 && config.adaptAlpha <= 1)) {
    throw new RangeError('detector: alpha and adaptAlpha must be in (0, 1]');
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

const METRIC_COUNT = BASELINE_METRICS.length;
const ERROR_AT = METRIC_COUNT * EWMA_SLOTS;
const RETRY_AT = ERROR_AT + EWMA_SLOTS;
const STATS_LENGTH = RETRY_AT + EWMA_SLOTS;
const LATENCY_INDEX = BASELINE_METRICS.indexOf('latency_ms');
const NO_ANOMALIES: readonly Anomaly[] = Object.freeze([]);

/** The serialisable form of one agent's detector state: what the sentinel checkpoints to Postgres. */
export const DetectorSnapshot = Type.Object(
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
export type DetectorSnapshot = Static<typeof DetectorSnapshot>;

/**
 * One agent's baseline and detector. `observe` judges a vital against what was learned before it, then
 * learns from it unless it was anomalous, so an infection never becomes the new normal. O(1) per vital and
 * allocation-free unless something is anomalous. Keep one per agent and vital kind: an MCP tool call and an
 * LLM call have different normals.
 */
export class AgentDetector {
  private readonly stats = new Float64Array(STATS_LENGTH);
  private readonly prompts: Uint32Array;
  private promptCount = 0;
  private promptNext = 0;
  private errorBits = 0;
  private retryBits = 0;
  private windowFill = 0;
  private samplesSeen = 0;
  private adaptRemaining = 0;
  private readonly windowMask: number;

  constructor(private readonly config: DetectorConfig = DEFAULT_DETECTOR_CONFIG) {
    this.prompts = new Uint32Array(config.maxPromptHashes);
    this.windowMask = 2 ** config.windowSize - 1;
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
  }

  /** Mean, standard deviation and sample count of one metric's baseline. */
  baseline(metric: BaselineMetric): { mean: number; sd: number; n: number } {
    const at = BASELINE_METRICS.indexOf(metric) * EWMA_SLOTS;
    return {
      mean: ewmaMean(this.stats, at),
      sd: Math.sqrt(ewmaVariance(this.stats, at)),
      n: ewmaCount(this.stats, at),
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
    const warm = this.samplesSeen >= config.minSamples;
    const adapting = this.adaptRemaining > 0;
    const alpha = adapting ? config.adaptAlpha : config.alpha;
    let anomalies: Anomaly[] | undefined;

    // Failed calls carry no meaningful token counts, so only their latency (timeouts) is judged, and
    // metric baselines learn from successful calls only.
    for (let i = 0; i < METRIC_COUNT; i++) {
      if (!vital.success && i !== LATENCY_INDEX) continue;
      const metric = BASELINE_METRICS[i]!;
      const x = vital[metric];
      const at = i * EWMA_SLOTS;
      let anomalous = false;
      if (warm) {
        const sigma = ewmaSigma(
          this.stats,
          at,
          x,
          config.relativeSigmaFloor,
          config.absoluteSigmaFloor[metric],
          config.maxSigma,
        );
        const type = METRIC_ANOMALY[metric];
        if (sigma >= config.thresholds[type]) {
          anomalous = true;
          anomalies ??= [];
          anomalies.push({ type, metric, observed: x, expected: ewmaMean(this.stats, at), sigma });
        }
      }
      if (vital.success && (adapting || !anomalous)) ewmaUpdate(this.stats, at, x, alpha);
    }

    // The window's rates are compared with a baseline learned from the vitals *before* the window: each bit
    // is learned as it leaves the window, so a burst is never half-learned while it is being judged. Bits that
    // entered during warm-up were learned on arrival, so there is a usable rate from the first judgement on.
    const exitingIndex = this.samplesSeen - config.windowSize;
    const learnExiting = exitingIndex >= config.minSamples;
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
      const hash = hash32(vital.prompt_hash);
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
    const rate = popcount(bits) / this.windowFill;
    if (rate < minRate) return anomalies;
    const p = ewmaMean(this.stats, at);
    const pf = Math.max(p, config.rateFloor);
    const sd = Math.sqrt((pf * (1 - pf)) / this.windowFill);
    const sigma = Math.min((rate - p) / sd, config.maxSigma);
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
      v: 1,
      samples: this.samplesSeen,
      adapt_remaining: this.adaptRemaining,
      stats: Array.from(this.stats),
      error_bits: this.errorBits,
      retry_bits: this.retryBits,
      window_fill: this.windowFill,
      prompts: Array.from(this.prompts.subarray(0, this.promptCount)),
      prompt_next: this.promptNext,
    };
  }

  static restore(
    snapshot: DetectorSnapshot,
    config: DetectorConfig = DEFAULT_DETECTOR_CONFIG,
  ): AgentDetector {
    const detector = new AgentDetector(config);
    detector.stats.set(snapshot.stats);
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

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** FNV-1a: prompt hashes are remembered as 32-bit numbers, which keeps the per-agent state small. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
