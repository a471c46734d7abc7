/**
 * The one place where replay and the detection benchmark turn vitals into decisions: a thin adapter over
 * core's `AgentTriage`, the same decision path the sentinel service runs (detector, repetition tracker,
 * lifecycle with the suspect window and fleet hold, fleet correlation). Replay and the benchmark only need
 * per-vital outcomes and lifecycle transitions, so this keeps their view small and stable.
 */
import {
  AgentTriage,
  type Anomaly,
  type AnomalyType,
  type LifecycleState,
  type LifecycleTransition,
  type QuarantineOrder,
  type TriageConfig,
  type TriageDecision,
  triageConfig,
  type Vital,
} from '@immune/core';

export type JudgeConfig = TriageConfig;

export interface JudgeOptions {
  /** σ threshold for every anomaly type. */
  threshold?: number;
  minSamples?: number;
  /** σ at or above which one anomaly is enough to quarantine (after the fleet hold). */
  severeSigma?: number;
}

export function judgeConfig(options: JudgeOptions = {}): JudgeConfig {
  const { threshold, minSamples, severeSigma } = options;
  return triageConfig({
    detector: {
      ...(minSamples === undefined ? {} : { minSamples }),
      ...(threshold === undefined
        ? {}
        : {
            thresholds: {
              token_spike: threshold,
              input_token_spike: threshold,
              output_token_spike: threshold,
              latency_spike: threshold,
              tool_explosion: threshold,
              cost_spike: threshold,
              high_retry_rate: threshold,
              error_rate_spike: threshold,
            },
          }),
    },
    ...(severeSigma === undefined ? {} : { severeSigma }),
  });
}

/** What happened to one agent because of one vital. */
export interface VitalDecision {
  vital: Vital;
  /** The vital's id was seen moments ago (a redelivery): it was ignored. */
  duplicate: boolean;
  /** Everything found in this vital, including anomalies the fleet explains. */
  anomalies: readonly Anomaly[];
  /** Anomaly types seen across the fleet at once: an external cause, not held against this agent. */
  external: readonly AnomalyType[];
  /** Transitions of this agent caused by this vital. */
  transitions: readonly LifecycleTransition[];
  /** The agent's state after the vital. */
  state: LifecycleState;
  /**
   * The soft containment entry this vital made the sentinel write (clamp and throttle while the agent stays
   * SUSPECTED): the vital's own call was served in full, the gateway limits the agent's next calls.
   */
  softContainment: QuarantineOrder | undefined;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Judges a fleet's vitals in time order. Time is the vitals' own `ts`: timers (fleet hold, suspect window,
 * drain timeout) fire when `advance` moves the clock past them, so a replay makes the same decisions however
 * fast it runs.
 */
export class FleetJudge {
  private readonly triage: AgentTriage;
  private clock = 0;

  constructor(readonly config: JudgeConfig = judgeConfig()) {
    this.triage = new AgentTriage(config);
  }

  get now(): number {
    return this.clock;
  }

  state(agentId: string): LifecycleState | undefined {
    return this.triage.lifecycleOf(agentId)?.state;
  }

  /** Fires every timer due at or before `now`, in time order; returns the transitions they caused. */
  advance(now: number): LifecycleTransition[] {
    this.clock = Math.max(this.clock, now);
    const due = this.triage.nextDue();
    if (due === undefined || due > now) return [];
    const fired: LifecycleTransition[] = [];
    // One deadline at a time, so each fires at its own time rather than at `now`.
    for (let next = this.triage.nextDue(); next !== undefined && next <= now; next = this.triage.nextDue()) {
      collectTransitions(this.triage.tick(next), fired);
    }
    return fired;
  }

  /** Fires every pending timer, as if the input were followed by a long silence. */
  finish(): LifecycleTransition[] {
    const fired: LifecycleTransition[] = [];
    for (let next = this.triage.nextDue(); next !== undefined; next = this.triage.nextDue()) {
      this.clock = Math.max(this.clock, next);
      collectTransitions(this.triage.tick(next), fired);
    }
    return fired;
  }

  /** Judges one vital. Call `advance(vital.ts)` first so the timers due before it fire first. */
  observe(vital: Vital): VitalDecision {
    this.clock = Math.max(this.clock, vital.ts);
    const decisions = this.triage.observe(vital);
    let anomalies: readonly Anomaly[] = NONE;
    let transitions: LifecycleTransition[] | undefined;
    let duplicate = false;
    let softContainment: QuarantineOrder | undefined;
    for (const decision of decisions) {
      if (decision.kind === 'anomalies') anomalies = decision.anomalies;
      else if (decision.kind === 'quarantine' && decision.order.containment === 'soft') {
        softContainment = decision.order;
      } else if (decision.kind === 'transition') {
        transitions ??= [];
        transitions.push(decision.transition);
      } else if (decision.kind === 'duplicate') duplicate = true;
    }
    let external: AnomalyType[] | undefined;
    for (const anomaly of anomalies) {
      if (this.triage.assessFleet(anomaly.type, vital.ts).correlated && !external?.includes(anomaly.type)) {
        external ??= [];
        external.push(anomaly.type);
      }
    }
    return {
      vital,
      duplicate,
      anomalies,
      external: external ?? NONE,
      transitions: transitions ?? NONE,
      state: this.state(vital.agent_id) ?? 'INITIALIZING',
      softContainment,
    };
  }

  /** An operator (or the benchmark, standing in for the healer) lets the agent back in. */
  release(agentId: string, now: number, reason = 'released by operator'): LifecycleTransition | undefined {
    const result = this.triage.apply(agentId, 'released', now, { reason });
    if (!result.ok) return undefined;
    const out: LifecycleTransition[] = [];
    collectTransitions(result.decisions, out);
    return out[0];
  }
}

function collectTransitions(decisions: readonly TriageDecision[], into: LifecycleTransition[]): void {
  for (const decision of decisions) if (decision.kind === 'transition') into.push(decision.transition);
}
