import type { AgentSeries } from './api.js';

/**
 * The baseline band drawn behind a metric: the sentinel's learned baseline (from its triage state, see
 * core's `AgentDetector.band`) in the metric's own unit, typical value and the range within k σ of it on the
 * metric's judged scale. Metrics without a learned baseline (retries) have none.
 */
export type Band = NonNullable<AgentSeries['baselines']>['metrics'][string];

/** The same band over time: per σ-history bucket of the window, as the sentinel judged then. */
export type BandSteps = NonNullable<AgentSeries['bands']>['metrics'][string];

export function sentinelBand(series: AgentSeries, metric: string): Band | null {
  return series.baselines?.metrics[metric] ?? null;
}

/** The metric's band per bucket of the window, null when the sentinel judged none of its vitals in it. */
export function bandSteps(series: AgentSeries, metric: string): BandSteps | null {
  const steps = series.bands?.metrics[metric];
  return steps === undefined || steps.ts.length === 0 ? null : steps;
}
