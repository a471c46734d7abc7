import type { VitalKind } from '@immune/core';
import type { SigmaBucket } from '@immune/store';
import type { AgentSeries, BandHistory } from './views.js';

/**
 * An agent page's bands over time from its σ history rows (ordered by kind, metric, time, as the store reads
 * them): the rows of `kind` when given (the sentinel's busiest kind, whose band the page's caption shows),
 * else of the kind with the most judged vitals.
 */
export function bandHistory(buckets: readonly SigmaBucket[], kind?: VitalKind): AgentSeries['bands'] {
  const chosen = kind ?? busiestKind(buckets);
  const metrics: Record<string, BandHistory> = {};
  for (const bucket of buckets) {
    if (bucket.kind !== chosen) continue;
    let band = metrics[bucket.metric];
    if (band === undefined) {
      band = { ts: [], typical: [], low: [], high: [], threshold: [], worst_sigma: [] };
      metrics[bucket.metric] = band;
    }
    band.ts.push(bucket.bucket_start);
    band.typical.push(bucket.typical);
    band.low.push(bucket.low);
    band.high.push(bucket.high);
    band.threshold.push(bucket.threshold);
    band.worst_sigma.push(bucket.worst_sigma);
  }
  return chosen === undefined || Object.keys(metrics).length === 0 ? null : { kind: chosen, metrics };
}

function busiestKind(buckets: readonly SigmaBucket[]): VitalKind | undefined {
  const samples = new Map<VitalKind, number>();
  for (const bucket of buckets) samples.set(bucket.kind, (samples.get(bucket.kind) ?? 0) + bucket.samples);
  let busiest: VitalKind | undefined;
  for (const [kind, count] of samples)
    if (busiest === undefined || count > samples.get(busiest)!) busiest = kind;
  return busiest;
}
