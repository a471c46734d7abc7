import type {
  ApprovalView,
  HEALER_AGENTS,
  InfectionView,
  KvBucket,
  QuarantineEntry,
  ReplyOf,
} from '@immune/bus';
import { isBlocked } from '@immune/core';
import type { Approval, Infection, Repositories } from '@immune/store';

/**
 * What operators read of the healer's state: approvals, infections with their ladders, and the fleet with each
 * agent's open case, in the shapes of the `immune.cmd.healer.*` replies. Reads only; every change goes through
 * the `Healer`.
 */
export class HealerReadModel {
  constructor(
    private readonly repos: Repositories,
    private readonly quarantine: () => Promise<KvBucket<QuarantineEntry>>,
  ) {}

  async approvals(query: {
    status: Approval['status'];
    agentId?: string;
    limit: number;
  }): Promise<ApprovalView[]> {
    const approvals = await this.repos.approvals.list({
      status: query.status,
      ...(query.agentId === undefined ? {} : { agentId: query.agentId }),
      limit: query.limit,
    });
    return Promise.all(approvals.map((a) => this.approval(a)));
  }

  /** One approval with the evidence of its infection (given, or read). */
  async approval(approval: Approval, infection?: Infection): Promise<ApprovalView> {
    const inf = infection ?? (await this.repos.infections.get(approval.infection_id));
    return {
      approval_id: approval.id,
      infection_id: approval.infection_id,
      agent_id: approval.agent_id,
      status: approval.status,
      requested_at: approval.requested_at,
      decided_at: approval.decided_at,
      decided_by: approval.decided_by,
      note: approval.note,
      severity: inf?.severity ?? 'low',
      max_deviation: inf?.max_deviation ?? 0,
      anomalies: [...new Set(inf?.report.anomalies.map((a) => a.type) ?? [])],
      hypotheses: inf?.diagnosis?.hypotheses ?? [],
    };
  }

  async infections(query: {
    infectionId?: string;
    agentId?: string;
    limit: number;
  }): Promise<InfectionView[]> {
    if (query.infectionId !== undefined) {
      const infection = await this.repos.infections.get(query.infectionId);
      return infection === undefined ? [] : [await this.infection(infection)];
    }
    const list = await this.repos.infections.list({
      ...(query.agentId === undefined ? {} : { agentId: query.agentId }),
      limit: query.limit,
    });
    return Promise.all(list.map((infection) => this.infection(infection)));
  }

  private async infection(infection: Infection): Promise<InfectionView> {
    return {
      infection_id: infection.id,
      agent_id: infection.agent_id,
      ts: infection.ts,
      status: infection.status,
      severity: infection.severity,
      max_deviation: infection.max_deviation,
      anomalies: [...new Set(infection.report.anomalies.map((a) => a.type))],
      hypotheses: infection.diagnosis?.hypotheses ?? [],
      attempts: (await this.repos.healingActions.forInfection(infection.id)).map(
        ({ updated_at: _u, ...a }) => a,
      ),
    };
  }

  /** Every agent the store knows, plus agents quarantined before any recorder saw them. */
  async agents(query: { limit: number }): Promise<ReplyOf<typeof HEALER_AGENTS>['agents']> {
    const agents = await this.repos.agents.list({ limit: query.limit });
    const quarantine = await (await this.quarantine()).entries();
    const known = new Set(agents.map((a) => a.id));
    const rows = agents.map((a) => ({ agent_id: a.id, state: a.state, last_seen: a.last_seen }));
    for (const [agentId, entry] of quarantine) {
      if (!known.has(agentId)) rows.push({ agent_id: agentId, state: entry.state, last_seen: entry.since });
    }
    rows.sort((a, b) => a.agent_id.localeCompare(b.agent_id));
    return Promise.all(
      rows.map(async (row) => {
        const latest = (await this.repos.infections.list({ agentId: row.agent_id, limit: 1 }))[0];
        const approval =
          latest === undefined ? undefined : await this.repos.approvals.forInfection(latest.id);
        const entry = quarantine.get(row.agent_id);
        return {
          ...row,
          quarantined: entry !== undefined && isBlocked(entry.state),
          infection_id: latest?.id ?? null,
          infection_status: latest?.status ?? null,
          approval: approval?.status ?? null,
        };
      }),
    );
  }
}
