import type { AnomalyType } from './anomaly.js';

export interface CorrelatorConfig {
  /** Anomalies of one type closer together than this are "at once". */
  windowMs: number;
  /** At least this many distinct agents must show the anomaly... */
  minAgents: number;
  /** ...and they must be at least this fraction of the active fleet. */
  minFraction: number;
}

export const DEFAULT_CORRELATOR_CONFIG: CorrelatorConfig = {
  windowMs: 60_000,
  minAgents: 5,
  minFraction: 0.2,
};

/**
 * What a failing upstream (a model provider, a gateway route) does to every agent that depends on it: slow
 * calls, failed calls, retried calls. An agent that shows one of them while it is fleet-wide is taken to be
 * hit by the same cause, so its other upstream symptoms are not held against it either. Token counts, tool
 * calls, cost and prompts are the agent's own doing and are never explained this way.
 */
export const UPSTREAM_SYMPTOMS: ReadonlySet<AnomalyType> = new Set<AnomalyType>([
  'latency_spike',
  'error_rate_spike',
  'high_retry_rate',
]);

export interface CorrelationAssessment {
  correlated: boolean;
  /** Distinct agents with this anomaly type inside the window. */
  agents: number;
  fraction: number;
}

/**
 * Counts distinct agents per anomaly type over a sliding time window. Many agents with the same anomaly at
 * once means a shared, external cause (a provider outage), so those agents should not be quarantined one by
 * one. An agent counts once however often it repeats, so one noisy agent can never look like a fleet.
 *
 * Pure and deterministic: fed the same observations in the same time order, any instance reaches the same
 * verdict, which is what lets several sentinels share one fleet view (see docs/fleet-correlation.md).
 */
export class FleetCorrelator {
  // Per type, agent -> last time seen. Maps keep insertion order, and an agent is re-inserted when seen
  // again, so the oldest sighting is always first and pruning is amortised O(1).
  private readonly seen = new Map<AnomalyType, Map<string, number>>();
  // Types that received a sighting older than their newest one, so their map is no longer in time order.
  private readonly unordered = new Set<AnomalyType>();
  private readonly newest = new Map<AnomalyType, number>();

  constructor(private readonly config: CorrelatorConfig = DEFAULT_CORRELATOR_CONFIG) {}

  observe(agentId: string, type: AnomalyType, ts: number): void {
    let agents = this.seen.get(type);
    if (!agents) {
      agents = new Map();
      this.seen.set(type, agents);
    }
    const previous = agents.get(agentId);
    if (previous !== undefined && previous > ts) return;
    const newest = this.newest.get(type) ?? -Infinity;
    if (ts < newest) this.unordered.add(type);
    else this.newest.set(type, ts);
    agents.delete(agentId);
    agents.set(agentId, ts);
  }

  assess(type: AnomalyType, now: number, fleetSize: number): CorrelationAssessment {
    const agents = this.seen.get(type);
    if (!agents) return { correlated: false, agents: 0, fraction: 0 };
    const oldest = now - this.config.windowMs;
    const fullScan = this.unordered.delete(type);
    for (const [agentId, ts] of agents) {
      if (ts >= oldest) {
        if (fullScan) continue;
        break;
      }
      agents.delete(agentId);
    }
    if (fullScan) this.restoreOrder(agents);
    const count = agents.size;
    const fraction = fleetSize > 0 ? count / Math.max(fleetSize, count) : 0;
    return {
      correlated: count >= this.config.minAgents && fraction >= this.config.minFraction,
      agents: count,
      fraction,
    };
  }

  private restoreOrder(agents: Map<string, number>): void {
    const sorted = [...agents].sort((a, b) => a[1] - b[1]);
    agents.clear();
    for (const [agentId, ts] of sorted) agents.set(agentId, ts);
  }

  /** The agents currently counted for a type, e.g. to name them in a `fleet.correlated` event. */
  agentsWith(type: AnomalyType): string[] {
    return [...(this.seen.get(type)?.keys() ?? [])];
  }
}
