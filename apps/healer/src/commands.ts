import {
  type ApprovalView,
  type Bus,
  type DecisionReply,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_INFECTIONS,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
  type InfectionView,
  type Subscription,
} from '@immune/bus';
import { HEALING_ACTIONS, type HealingActionType, isBlocked } from '@immune/core';
import { type Approval, type ApprovalStatus, createRepositories, type Infection } from '@immune/store';
import type { Healer } from './healer.js';

/** A command failure with a code the caller can act on (the bus passes `code` through). */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Decision = 'approve' | 'reject' | 'heal';

const DECISIONS: Record<
  Decision,
  {
    from: readonly ApprovalStatus[];
    to: 'approved' | 'rejected';
    event: 'approved' | 'rejected' | 'heal_now';
  }
> = {
  approve: { from: ['pending'], to: 'approved', event: 'approved' },
  reject: { from: ['pending'], to: 'rejected', event: 'rejected' },
  heal: { from: ['pending', 'rejected'], to: 'approved', event: 'heal_now' },
};

interface DecisionRequest {
  agent_id?: string;
  approval_id?: string;
  infection_id?: string;
  all?: boolean;
  operator: string;
  note?: string;
}

/** Registers every `immune.cmd.healer.*` handler on the bus. */
export async function serveCommands(bus: Bus, healer: Healer): Promise<Subscription[]> {
  const repos = healer.repos;

  const view = async (approval: Approval, infection?: Infection): Promise<ApprovalView> => {
    const inf = infection ?? (await repos.infections.get(approval.infection_id));
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
  };

  /** The approvals a decision is about, whatever their state (so a repeat can be reported as unchanged). */
  const targets = async (request: DecisionRequest, decision: Decision): Promise<Approval[]> => {
    const given = [
      request.agent_id,
      request.approval_id,
      request.infection_id,
      request.all ? true : undefined,
    ];
    if (given.filter((g) => g !== undefined).length !== 1) {
      throw new CommandError(
        'invalid_request',
        'give exactly one of agent_id, approval_id, infection_id, all',
      );
    }
    if (request.all) {
      const lists = await Promise.all(
        DECISIONS[decision].from.map((status) => repos.approvals.list({ status, limit: 1000 })),
      );
      return lists.flat();
    }
    let found: Approval | undefined;
    if (request.approval_id !== undefined) found = await repos.approvals.get(request.approval_id);
    else if (request.infection_id !== undefined)
      found = await repos.approvals.forInfection(request.infection_id);
    else {
      // The agent's latest case: an open one if there is one, else the latest decided (a harmless repeat).
      const all = await repos.approvals.list({ agentId: request.agent_id!, limit: 1000 });
      const open = all.filter((a) => DECISIONS[decision].from.includes(a.status));
      found = open.at(-1) ?? all.at(-1);
    }
    if (found === undefined) throw new CommandError('not_found', 'no approval matches');
    return [found];
  };

  const decide = async (decision: Decision, request: DecisionRequest): Promise<DecisionReply> => {
    const rule = DECISIONS[decision];
    const approvals = await targets(request, decision);
    const ts = healer.clock();
    const decided = await healer.db.transaction().execute(async (trx) => {
      const tx = createRepositories(trx);
      const rows = await tx.approvals.decideMany(
        approvals.map((a) => a.id),
        {
          status: rule.to,
          by: request.operator,
          ts,
          ...(request.note === undefined
            ? decision === 'heal'
              ? { note: 'heal now' }
              : {}
            : { note: request.note }),
        },
        { from: rule.from },
      );
      for (const row of rows) {
        await tx.infections.setStatus(
          row.infection_id,
          rule.to === 'approved' ? 'healing' : 'rejected',
          rule.to === 'approved' ? ['awaiting_approval', 'rejected'] : ['awaiting_approval'],
        );
      }
      return rows;
    });
    const decidedIds = new Set(decided.map((a) => a.id));
    for (const approval of decided) {
      await healer.publish(
        'approval.decided',
        approval.agent_id,
        {
          approval_id: approval.id,
          infection_id: approval.infection_id,
          agent_id: approval.agent_id,
          decision: rule.event,
          decided_by: request.operator,
          ...(approval.note === null ? {} : { note: approval.note }),
        },
        `${approval.id}:${rule.event}:${approval.decided_at}`,
      );
      const infection = await repos.infections.get(approval.infection_id);
      if (infection !== undefined && rule.to === 'approved') healer.kick(infection);
    }
    return {
      decided: await Promise.all(decided.map((a) => view(a))),
      unchanged: approvals
        .filter((a) => !decidedIds.has(a.id))
        .map((a) => ({
          approval_id: a.id,
          agent_id: a.agent_id,
          status: a.status,
          reason:
            a.status === rule.to
              ? `already ${a.status}`
              : `is ${a.status}; ${decision} needs ${rule.from.join(' or ')}`,
        })),
    };
  };

  const infectionView = async (infection: Infection): Promise<InfectionView> => ({
    infection_id: infection.id,
    agent_id: infection.agent_id,
    ts: infection.ts,
    status: infection.status,
    severity: infection.severity,
    max_deviation: infection.max_deviation,
    anomalies: [...new Set(infection.report.anomalies.map((a) => a.type))],
    hypotheses: infection.diagnosis?.hypotheses ?? [],
    attempts: (await repos.healingActions.forInfection(infection.id)).map(({ updated_at: _u, ...a }) => a),
  });

  return Promise.all([
    bus.handleCommand(HEALER_APPROVALS, async (request) => {
      const approvals = await repos.approvals.list({
        status: request.status ?? 'pending',
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 100,
      });
      return { approvals: await Promise.all(approvals.map((a) => view(a))) };
    }),
    bus.handleCommand(HEALER_APPROVE, (request) => decide('approve', request)),
    bus.handleCommand(HEALER_REJECT, async (request) => {
      const reply = await decide('reject', request);
      for (const approval of reply.decided) {
        await healer.enforcer.hold(
          await healer.target(approval.agent_id),
          'rejected by an operator',
          approval.infection_id,
        );
      }
      return reply;
    }),
    bus.handleCommand(HEALER_HEAL, (request) => decide('heal', request)),

    bus.handleCommand(HEALER_FEEDBACK, async (request) => {
      let infection: Infection | undefined;
      if (request.infection_id !== undefined) infection = await repos.infections.get(request.infection_id);
      else if (request.agent_id !== undefined)
        infection = (await repos.infections.list({ agentId: request.agent_id, limit: 1 }))[0];
      else throw new CommandError('invalid_request', 'give infection_id or agent_id');
      if (infection === undefined) throw new CommandError('not_found', 'no such infection');
      const anomalyTypes = [...new Set(infection.report.anomalies.map((a) => a.type))];
      const stored = await repos.feedback.record({
        infection_id: infection.id,
        agent_id: infection.agent_id,
        predicted: infection.diagnosis?.hypotheses[0]?.type ?? 'unknown',
        true_cause: request.true_cause,
        anomaly_types: anomalyTypes,
        operator: request.operator,
        ts: healer.clock(),
      });
      return {
        feedback_id: stored.id,
        infection_id: stored.infection_id,
        agent_id: stored.agent_id,
        predicted: stored.predicted,
        true_cause: stored.true_cause,
        anomaly_types: stored.anomaly_types,
      };
    }),

    bus.handleCommand(HEALER_QUARANTINE, async (request) => {
      const kv = await healer.quarantineBucket();
      const existing = await kv.get(request.agent_id);
      if (existing !== undefined && isBlocked(existing.state)) {
        return { agent_id: request.agent_id, entry: existing, already: true };
      }
      const entry = {
        agent_id: request.agent_id,
        state: 'QUARANTINED' as const,
        reason: request.reason ?? `quarantined by ${request.operator}`,
        since: healer.clock(),
        by: 'operator' as const,
      };
      await kv.put(request.agent_id, entry);
      await healer.publish(
        'quarantine.applied',
        request.agent_id,
        entry,
        `manual:${request.agent_id}:${entry.since}`,
      );
      await healer.enforcer.hold(await healer.target(request.agent_id), entry.reason);
      return { agent_id: request.agent_id, entry, already: false };
    }),

    bus.handleCommand(HEALER_RELEASE, async (request) => {
      const agentId = request.agent_id;
      return healer.withAgent(agentId, async () => {
        const reason = request.reason ?? `released by ${request.operator}`;
        const ts = healer.clock();
        // Close the cases first, so no healing step starts between the release and the cleanup.
        const open = await repos.infections.list({
          agentId,
          status: ['detected', 'diagnosed', 'awaiting_approval', 'healing', 'rejected', 'exhausted'],
        });
        for (const infection of open) await repos.infections.setStatus(infection.id, 'dismissed');
        const pending = await repos.approvals.list({ agentId, limit: 1000 });
        const cancelled = await repos.approvals.decideMany(
          pending.map((a) => a.id),
          { status: 'cancelled', by: request.operator, ts, note: reason },
          { from: ['pending', 'rejected'] },
        );
        const answer = await healer.lifecycle.apply(agentId, 'released', { reason, by: 'operator' });
        const state = answer.ok
          ? answer.view.state
          : answer.reason === 'refused'
            ? (answer.view?.state ?? null)
            : null;
        const kv = await healer.quarantineBucket();
        const entry = await kv.get(agentId);
        // The sentinel removes its own entry when it releases; an operator's, or one left while the sentinel is
        // unreachable, goes here (the operator's word wins).
        if (entry !== undefined && (entry.by !== 'sentinel' || !answer.ok)) await kv.delete(agentId);
        const target = await healer.target(agentId);
        const reverted: HealingActionType[] = [];
        for (const action of HEALING_ACTIONS) {
          if (await healer.router.revert(action, target).catch(() => false)) reverted.push(action);
        }
        await healer.enforcer.lift(target);
        const released = entry !== undefined || answer.ok;
        if (released) {
          await healer.publish(
            'quarantine.released',
            agentId,
            {
              agent_id: agentId,
              reason,
              ...(entry?.infection_id === undefined ? {} : { infection_id: entry.infection_id }),
            },
            `release:${agentId}:${ts}`,
          );
        }
        return {
          agent_id: agentId,
          released,
          state,
          cancelled_approvals: cancelled.map((a) => a.id),
          reverted,
        };
      });
    }),

    bus.handleCommand(HEALER_INFECTIONS, async (request) => {
      if (request.infection_id !== undefined) {
        const infection = await repos.infections.get(request.infection_id);
        return { infections: infection === undefined ? [] : [await infectionView(infection)] };
      }
      const list = await repos.infections.list({
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 50,
      });
      return { infections: await Promise.all(list.map(infectionView)) };
    }),

    bus.handleCommand(HEALER_AGENTS, async (request) => {
      const agents = await repos.agents.list({ limit: request.limit ?? 1000 });
      const quarantine = await (await healer.quarantineBucket()).entries();
      const known = new Set(agents.map((a) => a.id));
      const rows = agents.map((a) => ({ agent_id: a.id, state: a.state, last_seen: a.last_seen }));
      // Agents quarantined before any recorder saw them are listed from their quarantine entry.
      for (const [agentId, entry] of quarantine) {
        if (!known.has(agentId)) rows.push({ agent_id: agentId, state: entry.state, last_seen: entry.since });
      }
      rows.sort((a, b) => a.agent_id.localeCompare(b.agent_id));
      return {
        agents: await Promise.all(
          rows.map(async (row) => {
            const latest = (await repos.infections.list({ agentId: row.agent_id, limit: 1 }))[0];
            const approval = latest === undefined ? undefined : await repos.approvals.forInfection(latest.id);
            const entry = quarantine.get(row.agent_id);
            return {
              ...row,
              quarantined: entry !== undefined && isBlocked(entry.state),
              infection_id: latest?.id ?? null,
              infection_status: latest?.status ?? null,
              approval: approval?.status ?? null,
            };
          }),
        ),
      };
    }),
  ]);
}
