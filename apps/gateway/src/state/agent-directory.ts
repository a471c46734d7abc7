import type { Vital } from '@immune/core';

export interface AgentSummary {
  agent_id: string;
  identity: string;
  first_seen: number;
  last_seen: number;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  last_model: string | undefined;
}

/**
 * What this gateway replica has seen of each agent, for the management API: a summary and the last few
 * vitals. Bounded: the least recently seen agents are forgotten first. The map is kept in order of last
 * sighting (a sighting moves the agent to the end), so the eviction victims are the first keys.
 */
export class AgentDirectory {
  private readonly agents = new Map<string, { summary: AgentSummary; recent: Vital[] }>();

  constructor(
    private readonly recentPerAgent = 50,
    private readonly maxAgents = 20_000,
  ) {}

  /** Returns true the first time an agent is seen, so the caller can announce it. */
  touch(agentId: string, identity: string, now: number): boolean {
    const existing = this.agents.get(agentId);
    if (existing) {
      existing.summary.last_seen = now;
      this.agents.delete(agentId);
      this.agents.set(agentId, existing);
      return false;
    }
    if (this.agents.size >= this.maxAgents) this.evictOldest();
    this.agents.set(agentId, {
      summary: {
        agent_id: agentId,
        identity,
        first_seen: now,
        last_seen: now,
        requests: 0,
        errors: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost: 0,
        last_model: undefined,
      },
      recent: [],
    });
    return true;
  }

  /**
   * Forgets the least recently seen tenth at once. Deleting a Map's first key one at a time is not O(1) in V8:
   * deleted slots stay at the front until the table is rebuilt, and each lookup of the first key walks them.
   */
  private evictOldest(): void {
    let count = Math.max(1, Math.ceil(this.maxAgents / 10));
    for (const agentId of this.agents.keys()) {
      this.agents.delete(agentId);
      if (--count === 0) break;
    }
  }

  record(vital: Vital): void {
    const entry = this.agents.get(vital.agent_id);
    if (!entry) return;
    const s = entry.summary;
    s.requests++;
    if (!vital.success) s.errors++;
    s.input_tokens += vital.input_tokens;
    s.output_tokens += vital.output_tokens;
    s.cost += vital.cost;
    s.last_model = vital.model ?? s.last_model;
    s.last_seen = Math.max(s.last_seen, vital.ts);
    entry.recent.push(vital);
    if (entry.recent.length > this.recentPerAgent) entry.recent.shift();
  }

  list(): AgentSummary[] {
    return [...this.agents.values()].map((a) => ({ ...a.summary }));
  }

  get(agentId: string): AgentSummary | undefined {
    const entry = this.agents.get(agentId);
    return entry ? { ...entry.summary } : undefined;
  }

  recentVitals(agentId: string): Vital[] {
    return [...(this.agents.get(agentId)?.recent ?? [])];
  }

  totals(): {
    agents: number;
    requests: number;
    errors: number;
    input_tokens: number;
    output_tokens: number;
    cost: number;
  } {
    const totals = {
      agents: this.agents.size,
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost: 0,
    };
    for (const { summary } of this.agents.values()) {
      totals.requests += summary.requests;
      totals.errors += summary.errors;
      totals.input_tokens += summary.input_tokens;
      totals.output_tokens += summary.output_tokens;
      totals.cost += summary.cost;
    }
    return totals;
  }
}
