import { EWMA_SLOTS, ewmaSigma, ewmaUpdate } from './ewma.js';

export interface SeriesScorerConfig {
  alpha: number;
  minSamples: number;
  /** σ at which a sample scores 0.5; it is the natural alerting threshold. */
  threshold: number;
  relativeSigmaFloor: number;
  absoluteSigmaFloor: number;
  /** After this many anomalous samples in a row the series has a new level, which is then learned. */
  relearnAfter: number;
  maxSigma: number;
}

export const DEFAULT_SERIES_SCORER_CONFIG: SeriesScorerConfig = {
  alpha: 0.05,
  minSamples: 15,
  threshold: 3,
  relativeSigmaFloor: 0.1,
  absoluteSigmaFloor: 0,
  relearnAfter: 30,
  maxSigma: 1000,
};

/**
 * The detector's baseline as a streaming scorer over any numeric series, for backtesting (`immune replay`
 * with a `timestamp,value` CSV). Each sample gets a score in [0, 1]: σ² / (σ² + threshold²), so 0.5 is exactly
 * the threshold, ~0.9 is three times it, and the warm-up period scores 0. Unlike the agent detector it is
 * two-sided, because a generic series can fail by dropping as well as rising.
 */
export class SeriesScorer {
  private readonly stats = new Float64Array(EWMA_SLOTS);
  private seen = 0;
  private anomalousRun = 0;

  constructor(private readonly config: SeriesScorerConfig = DEFAULT_SERIES_SCORER_CONFIG) {}

  score(value: number): number {
    if (!Number.isFinite(value)) return 0;
    const config = this.config;
    let score = 0;
    let anomalous = false;
    if (this.seen >= config.minSamples) {
      const sigma = ewmaSigma(
        this.stats,
        0,
        value,
        config.relativeSigmaFloor,
        config.absoluteSigmaFloor,
        config.maxSigma,
      );
      const s2 = sigma * sigma;
      score = s2 / (s2 + config.threshold * config.threshold);
      anomalous = Math.abs(sigma) >= config.threshold;
    }
    this.anomalousRun = anomalous ? this.anomalousRun + 1 : 0;
    if (this.anomalousRun >= config.relearnAfter) {
      // A sustained shift is a new level, not an endless anomaly: restart learning from here.
      this.stats.fill(0);
      this.seen = 0;
      this.anomalousRun = 0;
      anomalous = false;
    }
    if (!anomalous) ewmaUpdate(this.stats, 0, value, config.alpha);
    this.seen++;
    return score;
  }
}
