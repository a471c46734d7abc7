import type { AgentSeries } from './api.js';

/**
 * The baseline band drawn behind a metric: the sentinel's learned baseline (from its triage state, see
 * core's `AgentDetector.band`) in the metric's own unit, typical value and the range within k σ of it on the
 * metric's judged scale. Metrics without a learned baseline (retries) have none.
 */
export type Band = NonNullable<AgentSeries['baselines']>['metrics'][string];

export function sentinelBand(series: AgentSeries, metric: string): Band | null {
  return series.baselines?.metrics[metric] ?? null;
}
