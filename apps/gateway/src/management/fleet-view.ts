import type { LifecycleState, Vital } from '@immune/core';
import { createRepositories, type Repositories, type Store } from '@immune/store';

/** One agent as the whole fleet has seen it: its directory entry and its calls in the window. */
export interface FleetAgent {
  agent_id: string;
  name: string | null;
  model: string | null;
  state: LifecycleState;
  first_seen: number;
  last_seen: number;
  requests: number;
  errors: number;
  total_tokens: number;
  cost: number;
}

export interface FleetTotals {
  agents: number;
  by_state: Partial<Record<LifecycleState, number>>;
  requests: number;
  errors: number;
  total_tokens: number;
  cost: number;
}

/**
 * What the management API answers about agents behind a load balancer: the fleet's PostgreSQL read models (the
 * agent directory, and the vitals every gateway, MCP proxy and ingest replica published, as the recorder
 * stored them), the same from every replica. What one replica has seen stays under /replica.
 */
export class FleetView {
  private readonly repos: Repositories;

  constructor(store: Store) {
    this.repos = createRepositories(store.db);
  }

  /** Every known agent, by id, with its calls since `since` (epoch ms). */
  async agents(since: number, limit: number): Promise<FleetAgent[]> {
    const [agents, summaries] = await Promise.all([
      this.repos.agents.list({ limit }),
      this.repos.vitals.summarize({ since }),
    ]);
    const calls = new Map(summaries.map((summary) => [summary.agent_id, summary]));
    return agents.map((agent) => {
      const summary = calls.get(agent.id);
      return {
        agent_id: agent.id,
        name: agent.name,
        model: agent.model,
        state: agent.state,
        first_seen: agent.first_seen,
        last_seen: agent.last_seen,
        requests: summary?.count ?? 0,
        errors: summary?.errors ?? 0,
        total_tokens: summary?.total_tokens ?? 0,
        cost: summary?.cost ?? 0,
      };
    });
  }

  async totals(since: number): Promise<FleetTotals> {
    const [byState, summaries] = await Promise.all([
      this.repos.agents.countByState(),
      this.repos.vitals.summarize({ since }),
    ]);
    const sum = (pick: (s: (typeof summaries)[number]) => number) =>
      summaries.reduce((total, summary) => total + pick(summary), 0);
    return {
      agents: Object.values(byState).reduce((total, n) => total + (n ?? 0), 0),
      by_state: byState,
      requests: sum((s) => s.count),
      errors: sum((s) => s.errors),
      total_tokens: sum((s) => s.total_tokens),
      cost: sum((s) => s.cost),
    };
  }

  /** The agent's latest stored vitals, newest first; undefined for an agent the fleet does not know. */
  async recentVitals(agentId: string, limit: number): Promise<Vital[] | undefined> {
    const [agent, vitals] = await Promise.all([
      this.repos.agents.get(agentId),
      this.repos.vitals.recent(agentId, { limit }),
    ]);
    return agent === undefined && vitals.length === 0 ? undefined : vitals;
  }
}
