import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from './detector.js';
import {
  BASELINE_SLOTS,
  type BaselineParams,
  type BaselineVerdict,
  newVerdict,
  observeBaseline,
} from './metric-baseline.js';
import { StuckValue } from './stuck-value.js';

/** What `immune replay --csv` and the benchmark tune: the agent detector's rules, for one generic metric. */
export interface SeriesDetectorConfig {
  /** σ-equivalent of the alarm threshold (3: a two-sided tail of 2.7e-3). */
  threshold: number;
  minSamples: number;
  quietSamples: number;
  acceptShiftAfter: number;
}

export function seriesDetectorConfig(
  overrides: Partial<SeriesDetectorConfig> = {},
  detector: DetectorConfig = DEFAULT_DETECTOR_CONFIG,
): SeriesDetectorConfig {
  const config: SeriesDetectorConfig = {
    threshold: 4,
    minSamples: detector.minSamples,
    quietSamples: detector.acceptShiftAfter,
    acceptShiftAfter: detector.acceptShiftAfter,
    ...overrides,
  };
  if (
    !(
      config.threshold > 0 &&
      config.minSamples >= 1 &&
      config.quietSamples >= 0 &&
      config.acceptShiftAfter >= 0
    )
  ) {
    throw new RangeError('series detector: threshold must be > 0, minSamples >= 1, quiet and accept >= 0');
  }
  return config;
}

export const DEFAULT_SERIES_DETECTOR_CONFIG: SeriesDetectorConfig = seriesDetectorConfig();

/** One sample's outcome. */
export interface SeriesScore {
  /**
   * σ²/(σ² + T²) of the σ-equivalent (the calibrated tail probability) and the threshold T: 0 at the mean,
   * exactly 0.5 at the threshold, 0.9 at 3T; monotone in the tail probability, so any cut is a p-value cut.
   */
  score: number;
  /** σ-equivalent of the deviation (signed). */
  sigma: number;
  /** The detector's decision: the onset of an anomalous episode (one per episode). */
  alarm: boolean;
}

/**
 * The production detector (`metric-baseline.ts`, as `AgentDetector` runs it per metric) on one generic
 * series: judged on the raw scale (the kind is unknown, so no log or Anscombe transform), two-sided (a generic
 * series fails by dropping as well as rising), its noise floor half the smallest step seen between
 * consecutive values (a noise-free series is not infinitely sensitive), everything else the agent
 * detector's defaults. A backtest with it is a backtest of the production rules.
 */
export class SeriesDetector {
  private readonly stats = new Float64Array(BASELINE_SLOTS);
  private readonly params: BaselineParams;
  private readonly verdict: BaselineVerdict = newVerdict();
  /** Smallest positive step seen between consecutive values, and the last value. */
  private quantum = 0;
  private last = Number.NaN;
  private readonly stuck: StuckValue;

  constructor(
    config: SeriesDetectorConfig = DEFAULT_SERIES_DETECTOR_CONFIG,
    detector = DEFAULT_DETECTOR_CONFIG,
  ) {
    this.params = {
      alpha: detector.alpha,
      shortAlpha: detector.shortAlpha,
      minSamples: config.minSamples,
      winsor: detector.winsor,
      threshold: config.threshold,
      twoSided: true,
      floor: 0,
      quiet: config.quietSamples,
      acceptAfter: config.acceptShiftAfter,
      noveltyMargin: detector.noveltyMargin,
      evidenceSlack: detector.evidenceSlack * config.threshold,
      evidenceCap: detector.evidenceCap * config.threshold,
      evidenceAlarm: detector.evidenceAlarm * config.threshold,
      maxSigma: detector.maxSigma,
    };
    this.stuck = new StuckValue(config.minSamples);
  }

  /** Judges `value`, then learns it. A non-finite value is a gap: nothing is judged or learned. */
  observe(value: number): SeriesScore {
    if (!Number.isFinite(value)) return { score: 0, sigma: 0, alarm: false };
    // Half the resolution the series has shown so far: its smallest change is two floors, not 1000σ.
    this.params.floor = this.quantum / 2;
    const verdict = observeBaseline(this.stats, 0, value, this.params, this.verdict);
    const stuck = this.stuck.observe(value);
    const step = Math.abs(value - this.last);
    if (step > 0 && (this.quantum === 0 || step < this.quantum)) this.quantum = step;
    this.last = value;
    let sigma = verdict.sigma;
    if (stuck > Math.abs(sigma)) sigma = stuck;
    const s2 = sigma * sigma;
    const t2 = this.params.threshold * this.params.threshold;
    // A sustained state is not a new episode: only the onset alarms, and a stuck run once.
    const stuckOnset = stuck >= this.params.threshold;
    if (stuckOnset) this.stuck.markAlarmed();
    return { score: s2 / (s2 + t2), sigma, alarm: verdict.onset || stuckOnset };
  }
}
