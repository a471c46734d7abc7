import { createHash } from 'node:crypto';
import {
  type Bus,
  type DecisionReply,
  type EventData,
  type EventEnvelope,
  type HEALER_APPROVE,
  type HEALER_FEEDBACK,
  type HEALER_QUARANTINE,
  type HEALER_RELEASE,
  type HealerEvent,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
  type ReplyOf,
  type RequestOf,
  type Subscription,
} from '@immune/bus';
import {
  attemptId,
  compileChecker,
  type Diagnosis,
  DiagnosisType,
  diagnose,
  foldFeedback,
  HEALING_ACTIONS,
  type HealingActionType,
  type HealingAttempt,
  type InfectionReport,
  isBlocked,
  nextHealing,
  requiresApproval,
  summarizeMemory,
} from '@immune/core';
import { instruments, type Logger } from '@immune/runtime';
import {
  type Approval,
  type ApprovalStatus,
  createRepositories,
  type Db,
  type Infection,
  type Repositories,
} from '@immune/store';
import type { Meter } from '@opentelemetry/api';
import { CommandError } from './command-error.js';
import type { AgentTarget, Enforcer, ExecutorRouter } from './executors/index.js';
import { ContainerTarget } from './executors/types.js';
import { LifecycleClient } from './lifecycle-client.js';
import { HealerReadModel } from './read-model.js';

export interface HealerSettings {
  severeThreshold: number;
  minConfidence: number;
  memoryDays: number;
  reconcileMs: number;
  sentinelTimeoutMs: number;
}

export interface HealerDeps {
  settings: HealerSettings;
  bus: Bus;
  db: Db;
  router: ExecutorRouter;
  enforcer: Enforcer;
  logger: Logger;
  meter?: Meter;
  now?: () => number;
  /** Durable consumer name on the events stream; one per deployment (replicas would share it). */
  durable?: string;
}

/** An operator's word on a severe case. */
export type Decision = 'approve' | 'reject' | 'heal';
/** Whom a decision applies to (one of agent, approval, infection, all). */
export type DecisionRequest = RequestOf<typeof HEALER_APPROVE>;

/**
 * Who sends an operator command, as its token proved (commands.ts checks it): `name` is what every decision,
 * event and row records; `token` is forwarded only where another service must check it too (the sentinel, on
 * a release), and is never stored, logged or put in an event.
 */
export interface OperatorActor {
  name: string;
  token: string;
}

/** From which approval states a decision moves a case, and to which. */
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

/**
 * The statuses a decision may take cases from, narrowed by the request's `status` filter. A filter the decision
 * can never satisfy (approve rejected cases) is a bad request, not a silent no-op.
 */
function applicableStatuses(
  decision: Decision,
  status: ApprovalStatus | undefined,
): readonly ApprovalStatus[] {
  const from = DECISIONS[decision].from;
  if (status === undefined) return from;
  if (!from.includes(status))
    throw new CommandError(
      'invalid_request',
      `${decision} takes ${from.join(' or ')} cases, never ${status} ones`,
    );
  return [status];
}

/** Infection statuses that are still somebody's business. */
const OPEN_STATUSES = ['detected', 'diagnosed', 'awaiting_approval', 'healing', 'rejected'] as const;

const containerChecker = compileChecker(ContainerTarget);
const causeChecker = compileChecker(DiagnosisType);

/**
 * The healer's workflow. Its state lives in PostgreSQL: the infection's status, its diagnosis, the approval,
 * and one `healing_actions` row per attempt whose deterministic id is written before the action runs. Every
 * entry point (an event, an operator command, the reconcile timer) reads that state, asks core what comes
 * next, and writes the result, under a per-agent lock; so a restarted healer picks up exactly where the last
 * one stopped, and no action runs twice.
 */
export class Healer {
  /** What operators read (approvals, infections, agents); changes go through this class's methods. */
  readonly readModel: HealerReadModel;
  private readonly repos: Repositories;
  private readonly lifecycle: LifecycleClient;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly background = new Set<Promise<unknown>>();
  private subscription: Subscription | undefined;

  /** Whether its events consumer is running (started and not stopped): the healer's readiness. */
  get consuming(): boolean {
    return this.subscription !== undefined;
  }
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private reconciling: Promise<void> | undefined;
  private readonly counters;

  constructor(private readonly deps: HealerDeps) {
    this.repos = createRepositories(deps.db);
    this.lifecycle = new LifecycleClient(deps.bus, deps.settings.sentinelTimeoutMs);
    this.readModel = new HealerReadModel(this.repos, () => this.quarantineBucket());
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    const make = deps.meter ? instruments(deps.meter) : undefined;
    this.counters = make
      ? {
          infections: make.counter('healer_infections', { description: 'Infections diagnosed' }),
          attempts: make.counter('healer_healing_attempts', { description: 'Healing actions run' }),
          outcomes: make.counter('healer_healing_outcomes', {
            description: 'Final verdicts on healing actions',
          }),
        }
      : undefined;
  }

  /** Subscribes to the events it reacts to, and resumes whatever a previous healer left unfinished. */
  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribeEvents({
      durable: this.deps.durable ?? 'healer',
      deliverFrom: 'all',
      types: ['infection.detected', 'probation.passed', 'probation.failed', 'lifecycle.changed'],
      maxInFlight: 16,
      handler: (event) => this.onEvent(event),
      onDropped: (reason, subject) =>
        this.logger.warn({ event: 'event-dropped', reason, subject }, 'dropped an event it cannot read'),
    });
    await this.reconcile();
    this.timer = setInterval(() => {
      void this.reconcile();
    }, this.deps.settings.reconcileMs);
    this.timer.unref();
  }

  /** Stops taking events, lets handlers and healings in flight finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.stop();
    this.subscription = undefined;
    await this.reconciling;
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  // -------------------------------------------------------------------------------------------------------
  // Events

  private async onEvent(event: EventEnvelope): Promise<void> {
    switch (event.type) {
      case 'infection.detected':
        return this.onInfection(event.data);
      case 'probation.passed':
        return this.onProbation(event.agentId, true, event.data.infection_id, event.data.action, '');
      case 'probation.failed':
        return this.onProbation(
          event.agentId,
          false,
          event.data.infection_id,
          event.data.action,
          event.data.anomalies.map((a) => `${a.type} ${a.sigma.toFixed(1)}σ`).join(', '),
        );
      case 'lifecycle.changed':
        // An agent that was still draining when its mild case came in can be healed now.
        if (event.data.to === 'QUARANTINED') await this.resumeAgent(event.data.agent_id);
        return;
      default:
        return;
    }
  }

  /** Diagnoses a new infection, then asks an operator (severe) or starts healing (mild). */
  async onInfection(report: InfectionReport): Promise<void> {
    await this.withAgent(report.agent_id, async () => {
      await this.repos.infections.record(report);
      const infection = await this.repos.infections.get(report.id);
      if (infection === undefined) return;
      if (infection.status !== 'detected') {
        // A redelivery: the decision was made and stored; make sure its announcements went out.
        if (infection.status === 'awaiting_approval') await this.announceApproval(infection);
        return;
      }
      await this.supersede(report.agent_id, report.id);
      const feedback = foldFeedback(await this.repos.feedback.list());
      const hypotheses = diagnose(report, feedback);
      const diagnosis: Diagnosis = {
        infection_id: report.id,
        agent_id: report.agent_id,
        ts: this.now(),
        hypotheses,
      };
      const severe = requiresApproval(report, this.deps.settings.severeThreshold);
      await this.deps.db.transaction().execute(async (trx) => {
        const repos = createRepositories(trx);
        await repos.infections.setDiagnosis(report.id, diagnosis, severe ? 'awaiting_approval' : 'healing');
        if (severe)
          await repos.approvals.request({
            infection_id: report.id,
            agent_id: report.agent_id,
            ts: this.now(),
          });
      });
      this.counters?.infections.add(1, { severity: report.severity, approval: String(severe) });
      this.logger.info(
        {
          event: 'infection-diagnosed',
          agent_id: report.agent_id,
          infection_id: report.id,
          max_deviation: report.max_deviation,
          top: hypotheses[0]?.type,
          requires_approval: severe,
        },
        severe ? 'severe infection: waiting for an operator' : 'mild infection: healing',
      );
      await this.publish(
        'infection.diagnosed',
        report.agent_id,
        {
          infection_id: report.id,
          agent_id: report.agent_id,
          hypotheses,
          max_deviation: report.max_deviation,
          severity: report.severity,
          requires_approval: severe,
        },
        `${report.id}:diagnosed`,
      );
      const stored = (await this.repos.infections.get(report.id))!;
      if (severe) {
        await this.announceApproval(stored);
        await this.deps.enforcer.hold(await this.target(report.agent_id), 'waiting for approval', report.id);
      } else {
        await this.advance(stored, false);
      }
    });
  }

  /** A newer infection of the same agent replaces any case still open for it. */
  private async supersede(agentId: string, newInfectionId: string): Promise<void> {
    const open = await this.repos.infections.list({ agentId, status: [...OPEN_STATUSES] });
    for (const old of open) {
      if (old.id === newInfectionId) continue;
      await this.repos.infections.setStatus(old.id, 'dismissed', [...OPEN_STATUSES]);
      const approval = await this.repos.approvals.forInfection(old.id);
      if (approval !== undefined) {
        await this.repos.approvals.decideMany(
          [approval.id],
          {
            status: 'cancelled',
            by: 'healer',
            ts: this.now(),
            note: `superseded by infection ${newInfectionId}`,
          },
          { from: ['pending', 'rejected'] },
        );
      }
    }
  }

  private async announceApproval(infection: Infection): Promise<void> {
    const approval = await this.repos.approvals.forInfection(infection.id);
    if (approval === undefined || approval.status !== 'pending') return;
    await this.publish(
      'approval.requested',
      infection.agent_id,
      {
        approval_id: approval.id,
        infection_id: infection.id,
        agent_id: infection.agent_id,
        max_deviation: infection.max_deviation,
        severity: infection.severity,
        hypotheses: infection.diagnosis?.hypotheses ?? [],
      },
      `${approval.id}:requested`,
    );
  }

  private async onProbation(
    agentId: string,
    passed: boolean,
    infectionId: string | undefined,
    action: string,
    detail: string,
  ): Promise<void> {
    await this.withAgent(agentId, async () => {
      const infection =
        infectionId === undefined
          ? (await this.repos.infections.list({ agentId, status: ['healing'], limit: 1 }))[0]
          : await this.repos.infections.get(infectionId);
      if (infection === undefined) return;
      const attempts = await this.repos.healingActions.forInfection(infection.id);
      const applied = attempts.find((a) => a.status === 'applied' && (action === '' || a.action === action));
      if (applied === undefined) return; // already judged (a redelivery)
      const ts = this.now();
      if (passed) {
        await this.settle(applied, 'succeeded', 'probation passed', ts, true);
        await this.repos.infections.setStatus(infection.id, 'resolved', ['healing']);
        this.logger.info(
          { event: 'healed', agent_id: agentId, infection_id: infection.id, action: applied.action },
          `healed by ${applied.action}`,
        );
        return;
      }
      await this.settle(applied, 'failed', `relapsed on probation: ${detail}`, ts, true);
      await this.revert(agentId, applied.action);
      if (infection.status === 'healing') await this.advance(infection, false);
    });
  }

  /** Records a final verdict: the row, immune memory (when it says something about the cure), the event. */
  private async settle(
    attempt: HealingAttempt,
    status: 'succeeded' | 'failed',
    detail: string,
    ts: number,
    remember: boolean,
  ): Promise<void> {
    const settled: HealingAttempt = { ...attempt, status, ts, detail };
    await this.repos.healingActions.upsert(settled);
    if (remember) {
      await this.repos.immuneMemory.record({
        id: attempt.id,
        agent_id: attempt.agent_id,
        diagnosis: attempt.diagnosis,
        action: attempt.action,
        outcome: status,
        ts,
      });
      this.counters?.outcomes.add(1, { action: attempt.action, outcome: status });
    }
    const { updated_at: _updated, ...event } = settled as HealingAttempt & { updated_at?: number };
    await this.publish(
      status === 'succeeded' ? 'healing.succeeded' : 'healing.failed',
      attempt.agent_id,
      { ...event, ts: attempt.ts },
      `${attempt.id}:${status}`,
    );
  }

  // -------------------------------------------------------------------------------------------------------
  // The ladder

  /**
   * Walks the ladder of an infection being healed until something has to wait: probation, the sentinel, or
   * the end of the ladder. Must run under the agent's lock.
   */
  private async advance(infection: Infection, reconciling: boolean): Promise<void> {
    const agentId = infection.agent_id;
    for (let guard = 0; guard < 64 && !this.stopping; guard++) {
      const current = await this.repos.infections.get(infection.id);
      if (current?.status !== 'healing' || current.diagnosis === null) return;
      const attempts = await this.repos.healingActions.forInfection(infection.id);
      const memory = summarizeMemory(
        await this.repos.immuneMemory.list({
          since: this.now() - this.deps.settings.memoryDays * 86_400_000,
        }),
      );
      const next = nextHealing({
        agentId,
        hypotheses: current.diagnosis.hypotheses,
        attempts,
        memory,
        minConfidence: this.deps.settings.minConfidence,
      });
      switch (next.kind) {
        case 'cured':
          await this.repos.infections.setStatus(infection.id, 'resolved', ['healing']);
          return;
        case 'await_probation':
          if (reconciling)
            await this.resendSucceeded(
              next.attempt,
              attempts.find((a) => a.id === next.attempt.id)!.updated_at,
            );
          return;
        case 'interrupted':
          this.logger.warn(
            {
              event: 'attempt-interrupted',
              agent_id: agentId,
              attempt: next.attempt.id,
              action: next.attempt.action,
            },
            'an action was running when the healer stopped; not repeating it',
          );
          await this.settle(
            next.attempt,
            'failed',
            'interrupted: the healer stopped while this action ran; it is not repeated',
            this.now(),
            false,
          );
          continue;
        case 'exhausted': {
          const answer = await this.lifecycle.apply(agentId, 'exhausted', {
            infection_id: infection.id,
            reason: 'every healing action was tried',
          });
          if (!answer.ok && answer.reason === 'unavailable') return; // the reconcile timer tries again
          if (!answer.ok && answer.view?.state !== 'EXHAUSTED') {
            this.logger.warn(
              { event: 'exhaust-refused', agent_id: agentId, code: answer.code, state: answer.view?.state },
              'the sentinel refused to mark the agent exhausted',
            );
          }
          if (!(await this.repos.infections.setStatus(infection.id, 'exhausted', ['healing']))) return;
          await this.publish(
            'healing.exhausted',
            agentId,
            { infection_id: infection.id, agent_id: agentId, tried: next.tried },
            `${infection.id}:exhausted`,
          );
          await this.deps.enforcer.hold(await this.target(agentId), 'healing exhausted', infection.id);
          this.logger.warn(
            { event: 'exhausted', agent_id: agentId, infection_id: infection.id },
            'ladder exhausted',
          );
          return;
        }
        case 'step': {
          const ready = await this.ensureHealing(agentId, infection.id);
          if (ready !== 'go') {
            if (ready === 'dismiss')
              await this.repos.infections.setStatus(infection.id, 'dismissed', ['healing']);
            return;
          }
          const attempt: HealingAttempt = {
            id: attemptId(infection.id, next.step),
            infection_id: infection.id,
            agent_id: agentId,
            diagnosis: next.diagnosis,
            action: next.action,
            step: next.step,
            status: 'pending',
            ts: this.now(),
          };
          if (!(await this.repos.healingActions.claim(attempt))) return; // another healer has this step
          await this.publish('healing.attempted', agentId, attempt, `${attempt.id}:pending`);
          const target = await this.target(agentId);
          // The agent's process or container must run for agent-side cures; the gateway still blocks its traffic.
          if (attempts.length === 0) await this.deps.enforcer.lift(target);
          this.counters?.attempts.add(1, { action: attempt.action });
          const result = await this.deps.router.apply({
            attemptId: attempt.id,
            infectionId: infection.id,
            agent: target,
            action: attempt.action,
            diagnosis: attempt.diagnosis,
          });
          this.logger.info(
            {
              event: 'healing-step',
              agent_id: agentId,
              infection_id: infection.id,
              step: attempt.step,
              diagnosis: attempt.diagnosis,
              action: attempt.action,
              executor: result.executor,
              ok: result.ok,
              detail: result.detail,
            },
            `${attempt.action} ${result.ok ? 'applied' : 'failed'}`,
          );
          if (!result.ok) {
            await this.settle(attempt, 'failed', result.detail, this.now(), result.unavailable !== true);
            await this.revert(agentId, attempt.action);
            continue;
          }
          const applied: HealingAttempt = {
            ...attempt,
            status: 'applied',
            ts: this.now(),
            ...(result.detail === undefined ? {} : { detail: result.detail }),
          };
          await this.repos.healingActions.upsert(applied);
          await this.publish(
            'healing.attempted',
            agentId,
            { ...applied, ts: attempt.ts },
            `${attempt.id}:applied`,
          );
          await this.lifecycle.apply(agentId, 'healing_succeeded', {
            infection_id: infection.id,
            action: attempt.action,
            reason: `${attempt.action} applied for ${attempt.diagnosis}`,
          });
          // Unavailable or refused: the reconcile timer sends it again while the agent is still HEALING.
          return;
        }
      }
    }
  }

  /** Moves the agent into HEALING unless it is there already. */
  private async ensureHealing(agentId: string, infectionId: string): Promise<'go' | 'wait' | 'dismiss'> {
    const answer = await this.lifecycle.apply(agentId, 'healing_started', {
      infection_id: infectionId,
      reason: 'healing starts',
    });
    if (answer.ok) return 'go';
    if (answer.reason === 'unavailable') {
      this.logger.warn(
        { event: 'sentinel-unavailable', agent_id: agentId },
        'the sentinel did not answer; retrying later',
      );
      return 'wait';
    }
    const state = answer.view?.state;
    if (state === 'HEALING' || state === 'PROBATION') return 'go';
    // Still draining: the lifecycle.changed to QUARANTINED (or the reconcile timer) resumes it. Still
    // QUARANTINED after asking means the sentinel did not apply the trigger: try again later, never run a
    // cure on an agent whose lifecycle does not say HEALING.
    if (state === 'DRAINING' || state === 'QUARANTINED' || state === 'EXHAUSTED' || state === undefined) {
      if (state === 'QUARANTINED' || state === 'EXHAUSTED')
        this.logger.warn(
          { event: 'healing-start-not-applied', agent_id: agentId, state, code: answer.code },
          'the sentinel did not move the agent to HEALING; retrying later',
        );
      return 'wait';
    }
    this.logger.warn(
      { event: 'healing-not-started', agent_id: agentId, state, code: answer.code },
      'the agent is no longer quarantined; closing the case',
    );
    return 'dismiss';
  }

  /** After a restart: the cure was applied but the sentinel may never have heard of it. */
  private async resendSucceeded(attempt: HealingAttempt, appliedAt: number): Promise<void> {
    const answer = await this.lifecycle.query(attempt.agent_id);
    if (!answer.ok || answer.view.state !== 'HEALING' || answer.view.entered_at > appliedAt) return;
    await this.lifecycle.apply(attempt.agent_id, 'healing_succeeded', {
      infection_id: attempt.infection_id,
      action: attempt.action,
      reason: `${attempt.action} applied for ${attempt.diagnosis}`,
    });
  }

  private async revert(agentId: string, action: HealingActionType): Promise<boolean> {
    try {
      return await this.deps.router.revert(action, await this.target(agentId));
    } catch (error) {
      this.logger.warn(
        { err: error, agent_id: agentId, action, event: 'revert-failed' },
        'could not revert a cure',
      );
      return false;
    }
  }

  /** Looks at every unfinished case again: at start (restart resilience) and on a timer. */
  reconcile(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.reconciling ??= (async () => {
      try {
        const detected = await this.repos.infections.list({ status: ['detected'], limit: 500 });
        for (const infection of detected) await this.onInfection(infection.report);
        const healing = await this.repos.infections.list({ status: ['healing'], limit: 500 });
        for (const infection of healing) {
          if (this.stopping) break;
          await this.withAgent(infection.agent_id, () => this.advance(infection, true));
        }
      } catch (error) {
        this.logger.error({ err: error, event: 'reconcile-failed' }, 'reconcile failed');
      } finally {
        this.reconciling = undefined;
      }
    })();
    return this.reconciling;
  }

  private async resumeAgent(agentId: string): Promise<void> {
    const healing = await this.repos.infections.list({ agentId, status: ['healing'], limit: 1 });
    for (const infection of healing) await this.withAgent(agentId, () => this.advance(infection, false));
  }

  /** Starts healing an infection in the background (operator commands answer before the ladder runs). */
  private kick(infection: Infection): void {
    const run = this.withAgent(infection.agent_id, () => this.advance(infection, false)).catch((error) =>
      this.logger.error(
        { err: error, infection_id: infection.id, event: 'healing-failed' },
        'healing failed',
      ),
    );
    this.background.add(run);
    void run.finally(() => this.background.delete(run));
  }

  // -------------------------------------------------------------------------------------------------------
  // Operators (`immune.cmd.healer.*`): the other half of the approval workflow

  /**
   * Approves, rejects or heals now the cases a request names. Only cases in a state the decision applies to
   * change; the others are reported as unchanged with the reason, so repeating a command is harmless.
   * Approved cases start healing in the background; rejected ones stay held by the enforcers.
   */
  async decide(decision: Decision, request: DecisionRequest, actor: OperatorActor): Promise<DecisionReply> {
    const rule = DECISIONS[decision];
    const from = applicableStatuses(decision, request.status);
    const approvals = await this.decisionTargets(request, from);
    const ts = this.now();
    const decided = await this.deps.db.transaction().execute(async (trx) => {
      const tx = createRepositories(trx);
      const rows = await tx.approvals.decideMany(
        approvals.map((a) => a.id),
        {
          status: rule.to,
          by: actor.name,
          ts,
          ...(request.note === undefined
            ? decision === 'heal'
              ? { note: 'heal now' }
              : {}
            : { note: request.note }),
        },
        { from },
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
      await this.publish(
        'approval.decided',
        approval.agent_id,
        {
          approval_id: approval.id,
          infection_id: approval.infection_id,
          agent_id: approval.agent_id,
          decision: rule.event,
          decided_by: actor.name,
          ...(approval.note === null ? {} : { note: approval.note }),
        },
        `${approval.id}:${rule.event}:${approval.decided_at}`,
      );
      const infection = await this.repos.infections.get(approval.infection_id);
      if (infection !== undefined && rule.to === 'approved') this.kick(infection);
    }
    if (rule.to === 'rejected') {
      for (const approval of decided) {
        await this.deps.enforcer.hold(
          await this.target(approval.agent_id),
          'rejected by an operator',
          approval.infection_id,
        );
      }
    }
    return {
      decided: await Promise.all(decided.map((a) => this.readModel.approval(a))),
      unchanged: approvals
        .filter((a) => !decidedIds.has(a.id))
        .map((a) => ({
          approval_id: a.id,
          agent_id: a.agent_id,
          status: a.status,
          reason:
            a.status === rule.to
              ? `already ${a.status}`
              : `is ${a.status}; ${decision} needs ${from.join(' or ')}`,
        })),
    };
  }

  /** The approvals a decision is about, whatever their state (so a repeat can be reported as unchanged). */
  private async decisionTargets(
    request: DecisionRequest,
    from: readonly ApprovalStatus[],
  ): Promise<Approval[]> {
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
        from.map((status) => this.repos.approvals.list({ status, limit: 1000 })),
      );
      return lists.flat();
    }
    let found: Approval | undefined;
    if (request.approval_id !== undefined) found = await this.repos.approvals.get(request.approval_id);
    else if (request.infection_id !== undefined)
      found = await this.repos.approvals.forInfection(request.infection_id);
    else if (request.agent_id !== undefined) {
      // The agent's latest case: an open one if there is one, else the latest decided (a harmless repeat).
      const all = await this.repos.approvals.list({ agentId: request.agent_id, limit: 1000 });
      found = all.filter((a) => from.includes(a.status)).at(-1) ?? all.at(-1);
    }
    if (found === undefined) throw new CommandError('not_found', 'no approval matches');
    return [found];
  }

  /** An operator's verdict on what really caused an infection; it adjusts future diagnoses. */
  async recordFeedback(
    request: RequestOf<typeof HEALER_FEEDBACK>,
    actor: OperatorActor,
  ): Promise<ReplyOf<typeof HEALER_FEEDBACK>> {
    let infection: Infection | undefined;
    if (request.infection_id !== undefined) infection = await this.repos.infections.get(request.infection_id);
    else if (request.agent_id !== undefined)
      infection = (await this.repos.infections.list({ agentId: request.agent_id, limit: 1 }))[0];
    else throw new CommandError('invalid_request', 'give infection_id or agent_id');
    if (infection === undefined) throw new CommandError('not_found', 'no such infection');
    const stored = await this.repos.feedback.record({
      infection_id: infection.id,
      agent_id: infection.agent_id,
      predicted: infection.diagnosis?.hypotheses[0]?.type ?? 'unknown',
      true_cause: request.true_cause,
      anomaly_types: [...new Set(infection.report.anomalies.map((a) => a.type))],
      operator: actor.name,
      ts: this.now(),
    });
    return {
      feedback_id: stored.id,
      infection_id: stored.infection_id,
      agent_id: stored.agent_id,
      predicted: stored.predicted,
      true_cause: stored.true_cause,
      anomaly_types: stored.anomaly_types,
    };
  }

  /** Manual quarantine: blocks the agent at once (entry `by: operator`) and applies the enforcers. */
  async quarantine(
    request: RequestOf<typeof HEALER_QUARANTINE>,
    actor: OperatorActor,
  ): Promise<ReplyOf<typeof HEALER_QUARANTINE>> {
    const kv = await this.quarantineBucket();
    const existing = await kv.get(request.agent_id);
    if (existing !== undefined && isBlocked(existing.state)) {
      return { agent_id: request.agent_id, entry: existing, already: true };
    }
    const entry: QuarantineEntry = {
      agent_id: request.agent_id,
      state: 'QUARANTINED',
      reason: request.reason ?? `quarantined by ${actor.name}`,
      since: this.now(),
      by: 'operator',
    };
    await kv.put(request.agent_id, entry);
    await this.publish(
      'quarantine.applied',
      request.agent_id,
      entry,
      `manual:${request.agent_id}:${entry.since}`,
    );
    await this.deps.enforcer.hold(await this.target(request.agent_id), entry.reason);
    return { agent_id: request.agent_id, entry, already: false };
  }

  /**
   * Manual release: closes the agent's open cases, has the sentinel release it, removes an entry the sentinel
   * does not own, reverts the healer's cures and lifts the enforcers. The operator's word wins.
   */
  release(
    request: RequestOf<typeof HEALER_RELEASE>,
    actor: OperatorActor,
  ): Promise<ReplyOf<typeof HEALER_RELEASE>> {
    const agentId = request.agent_id;
    return this.withAgent(agentId, async () => {
      const reason = request.reason ?? `released by ${actor.name}`;
      const ts = this.now();
      // Close the cases first, so no healing step starts between the release and the cleanup.
      const open = await this.repos.infections.list({
        agentId,
        status: ['detected', 'diagnosed', 'awaiting_approval', 'healing', 'rejected', 'exhausted'],
      });
      for (const infection of open) await this.repos.infections.setStatus(infection.id, 'dismissed');
      const pending = await this.repos.approvals.list({ agentId, limit: 1000 });
      const cancelled = await this.repos.approvals.decideMany(
        pending.map((a) => a.id),
        { status: 'cancelled', by: actor.name, ts, note: reason },
        { from: ['pending', 'rejected'] },
      );
      // The sentinel checks the operator's token itself and records the name it proves.
      const answer = await this.lifecycle.apply(agentId, 'released', {
        // The sentinel writes "released by <name>" itself, from the token; only the operator's words go along.
        ...(request.reason === undefined ? {} : { reason: request.reason }),
        by: 'operator',
        operatorToken: actor.token,
      });
      const state = answer.ok
        ? answer.view.state
        : answer.reason === 'refused'
          ? (answer.view?.state ?? null)
          : null;
      const kv = await this.quarantineBucket();
      const entry = await kv.get(agentId);
      // The sentinel removes its own entry when it releases; an operator's, or one left while the sentinel is
      // unreachable, goes here.
      if (entry !== undefined && (entry.by !== 'sentinel' || !answer.ok)) await kv.delete(agentId);
      const target = await this.target(agentId);
      const reverted: HealingActionType[] = [];
      for (const action of HEALING_ACTIONS) {
        if (await this.deps.router.revert(action, target).catch(() => false)) reverted.push(action);
      }
      await this.deps.enforcer.lift(target);
      const released = entry !== undefined || answer.ok;
      if (released) {
        await this.publish(
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
  }

  // -------------------------------------------------------------------------------------------------------
  // Helpers

  /** Runs `fn` after every earlier call for this agent finished: one agent's workflow is never concurrent. */
  private withAgent<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(agentId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(agentId, tail);
    void tail.then(() => {
      if (this.locks.get(agentId) === tail) this.locks.delete(agentId);
    });
    return run;
  }

  /** What executors need to know about an agent, from its registration. */
  private async target(agentId: string): Promise<AgentTarget> {
    const agent = await this.repos.agents.get(agentId);
    const container = agent?.metadata.container;
    const cause = agent?.metadata.simulated_cause;
    return {
      agent_id: agentId,
      control_url: agent?.control_url ?? null,
      pid: agent?.pid ?? null,
      model: agent?.model ?? null,
      container: containerChecker.check(container) ? container : null,
      simulated_cause: causeChecker.check(cause) ? cause : null,
    };
  }

  /** Events are notifications: the database is the record, so a failed publish is logged, not fatal. */
  private async publish<T extends HealerEvent>(
    type: T,
    agentId: string,
    data: EventData<T>,
    id: string,
  ): Promise<void> {
    try {
      // Envelope ids are at most 128 characters; long infection ids are hashed rather than cut, so two events
      // never share an id (which would make JetStream drop the second as a duplicate).
      const stable = id.length <= 128 ? id : createHash('sha256').update(id).digest('hex');
      await this.deps.bus.publishEvent(type, agentId, data, { id: stable });
    } catch (error) {
      this.logger.warn(
        { err: error, type, agent_id: agentId, event: 'publish-failed' },
        `could not publish ${type}`,
      );
    }
  }

  private quarantineBucket() {
    return this.deps.bus.kv(QUARANTINE_BUCKET);
  }
}
