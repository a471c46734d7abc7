import type { Anomaly, AnomalyType, InfectionReport } from './anomaly.js';
import type {
  IllegalTransitionError,
  LifecycleTransition,
  LifecycleTrigger,
  TransitionGuardError,
} from './lifecycle.js';
import type { QuarantineOrder } from './quarantine-order.js';

/** What `AgentTriage` tells its caller to do: the decisions it returns and the triggers it accepts. */

/** Same anomaly type across much of the fleet at once: an external cause. */
export interface FleetCorrelation {
  anomaly_type: AnomalyType;
  /** The agents this triage owns that showed the anomaly in the window (other instances name theirs). */
  agents: string[];
  /** Fleet-wide, every instance's tally included. */
  fraction: number;
  fleet_size: number;
  /** Fleet-wide count of distinct agents with the anomaly. */
  affected: number;
  window_ms: number;
  ts: number;
}

/**
 * One consequence of a vital or a tick, in the order the caller must apply them. A `transition` is always
 * emitted before the infection, quarantine or release it causes.
 */
export type TriageDecision =
  /** The vital was seen before (a redelivery) and changed nothing. */
  | { kind: 'duplicate' }
  /** The vital was anomalous against the agent's baseline (or repeated a call too often). */
  | { kind: 'anomalies'; agent_id: string; vital_id: string; ts: number; anomalies: readonly Anomaly[] }
  | { kind: 'transition'; transition: LifecycleTransition }
  /** Escalation out of SUSPECTED: the evidence for `infection.detected`. */
  | { kind: 'infection'; report: InfectionReport }
  /** Write (or update) the agent's entry in the quarantine bucket: the gateway blocks it. */
  | { kind: 'quarantine'; order: QuarantineOrder }
  /** Remove the agent's entry from the quarantine bucket. */
  | { kind: 'release'; agent_id: string; reason: string; ts: number; infection_id?: string }
  | { kind: 'fleet'; correlation: FleetCorrelation }
  /** Probation ended: passed on clean vitals, or failed on an anomaly (the agent relapsed to HEALING). */
  | {
      kind: 'probation';
      agent_id: string;
      passed: boolean;
      infection_id?: string;
      action?: string;
      clean_vitals: number;
      anomalies: readonly Anomaly[];
    };

/** Triggers the outside world (healer, operator) may apply through `apply`. */
export type ExternalTrigger = Extract<
  LifecycleTrigger,
  'healing_started' | 'healing_succeeded' | 'exhausted' | 'released'
>;

export type ApplyResult =
  | { ok: true; decisions: TriageDecision[] }
  | { ok: false; error: IllegalTransitionError | TransitionGuardError };
