import { AgentDetector, type DetectorSnapshot, type MetricBand } from './detector.js';
import { KINDS } from './triage-agent.js';
import { type AgentTriageSnapshot, packedCleanVitals } from './triage-checkpoint.js';
import type { TriageConfig } from './triage-config.js';
import { BASELINE_METRICS, type BaselineMetric, type VitalKind } from './vital.js';

/** Where an agent on probation stands: what `probation_passed` waits for (see the lifecycle's guard). */
export interface ProbationProgress {
  clean_vitals: number;
  min_vitals: number;
  /** Event time at which the probation length is served. */
  ends_at: number;
}

/** What a dashboard shows of one agent's triage state, read from its checkpoint (see `triageView`). */
export interface TriageView {
  /** Present while the agent is on probation. */
  probation?: ProbationProgress;
  /** The learned baselines of the agent's busiest vital kind (most samples), absent before its first vital. */
  baselines?: { kind: VitalKind; metrics: Record<BaselineMetric, MetricBand> };
}

/**
 * The read model of a checkpointed triage state under `config` (the sentinel's): probation progress and the
 * learned baselines in the metrics' own units. Derived, never stored, so it cannot disagree with the state.
 */
export function triageView(snapshot: AgentTriageSnapshot, config: TriageConfig): TriageView {
  const view: TriageView = {};
  if (snapshot.state === 'PROBATION') {
    view.probation = {
      clean_vitals: packedCleanVitals(snapshot),
      min_vitals: config.lifecycle.probationMinVitals,
      ends_at: snapshot.entered_at + config.lifecycle.probationMs,
    };
  }
  let busiest: { kind: VitalKind; snapshot: DetectorSnapshot } | undefined;
  for (const kind of KINDS) {
    const detector = snapshot.detectors[kind];
    if (detector !== undefined && (busiest === undefined || detector.samples > busiest.snapshot.samples))
      busiest = { kind, snapshot: detector };
  }
  if (busiest !== undefined) {
    const detector = AgentDetector.restore(busiest.snapshot, config.detector);
    const metrics = Object.fromEntries(BASELINE_METRICS.map((metric) => [metric, detector.band(metric)]));
    view.baselines = { kind: busiest.kind, metrics: metrics as Record<BaselineMetric, MetricBand> };
  }
  return view;
}
