import { hostname } from 'node:os';
import {
  type Bus,
  type DeferredAck,
  type ExternalLifecycleTrigger,
  FLEET_BUCKET,
  type FleetTallyEntry,
  type KvBucket,
  type KvWatch,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
  SENTINEL_LIFECYCLE,
  type Subscription,
  type VitalDelivery,
} from '@immune/bus';
import {
  AgentTriage,
  type AnomalyType,
  IllegalTransitionError,
  isBlocked,
  type TriageConfig,
  type TriageDecision,
  triageConfig,
  triageView,
} from '@immune/core';
import {
  authorizeOperator,
  instruments,
  type Logger,
  loadOperatorTokens,
  type OperatorTokens,
} from '@immune/runtime';
import { createRepositories, type Repositories, type Store } from '@immune/store';
import type { Meter } from '@opentelemetry/api';
import type { Static } from 'typebox';
import { Checkpointer } from './checkpointer.js';
import { ownedPartitions, type SentinelConfig } from './config.js';
import { Effects } from './effects.js';
import { SigmaHistory } from './sigma-history.js';

export interface SentinelDeps {
  config: SentinelConfig;
  bus: Bus;
  store: Store;
  logger: Logger;
  meter?: Meter;
  /** Wall clock for timers and checkpoints; tests may pin it. */
  now?: () => number;
  /** Replaces the bus/database effects (the throughput bench measures the judging path without I/O). */
  effects?: Pick<Effects, 'enforce' | 'record'>;
}

/** The triage thresholds an env config asks for. */
export function triageConfigFrom(config: SentinelConfig): TriageConfig {
  const sigma = config.SENTINEL_THRESHOLD_SIGMA;
  return triageConfig({
    detector: {
      minSamples: config.SENTINEL_MIN_SAMPLES,
      thresholds: {
        token_spike: sigma,
        input_token_spike: sigma,
        output_token_spike: sigma,
        latency_spike: sigma,
        tool_explosion: sigma,
        cost_spike: sigma,
        high_retry_rate: sigma,
        error_rate_spike: sigma,
      },
    },
    lifecycle: {
      suspectWindowMs: config.SENTINEL_SUSPECT_WINDOW_MS,
      confirmAnomalies: config.SENTINEL_CONFIRM_ANOMALIES,
      drainTimeoutMs: config.SENTINEL_DRAIN_TIMEOUT_MS,
      probationMs: config.SENTINEL_PROBATION_MS,
      probationMinVitals: config.SENTINEL_PROBATION_MIN_VITALS,
    },
    correlator: {
      windowMs: config.SENTINEL_FLEET_WINDOW_MS,
      minAgents: config.SENTINEL_FLEET_MIN_AGENTS,
      minFraction: config.SENTINEL_FLEET_MIN_FRACTION,
    },
    repetition: { minRepeats: config.SENTINEL_LOOP_REPEATS, windowMs: config.SENTINEL_LOOP_WINDOW_MS },
    severeSigma: config.SENTINEL_SEVERE_SIGMA,
    containment: { soft: config.SENTINEL_SOFT_CONTAINMENT },
    ...(config.SENTINEL_FLEET_HOLD_MS === undefined ? {} : { fleetHoldMs: config.SENTINEL_FLEET_HOLD_MS }),
  });
}

class EffectsAbandonedError extends Error {
  override readonly name = 'EffectsAbandonedError';
}

/**
 * Running totals, read by observable counters at collection time. Calling `Counter.add` with attributes on
 * every vital hashed the attribute set each time, a cost the hot path does not need to pay.
 */
interface Totals {
  anomalies: Map<AnomalyType, number>;
  transitions: Map<string, number>;
  effectFailures: number;
  /** Checkpoints `restore` refused at start (another build's layout, or a damaged row). */
  checkpointsRefused: number;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * The sentinel service without its HTTP and process wiring (main.ts): consumes the owned partitions, judges
 * every vital through `AgentTriage`, carries decisions out, checkpoints state, and runs the one timer that
 * drives time-based transitions.
 */
export class Sentinel {
  readonly triage: AgentTriage;
  /** The σ history writer: what every judged vital adds to `sigma_buckets`. */
  readonly sigmaHistory: SigmaHistory;
  readonly partitions: readonly number[];
  readonly instanceId: string;
  private readonly owned: Set<number>;
  private readonly repos: Repositories;
  private readonly now: () => number;
  private readonly checkpointer: Checkpointer;
  /** Per agent: the tail of its effects, and of its quarantine-bucket writes alone (see `run`). */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly enforcing = new Map<string, Promise<void>>();
  private readonly abandoned = new Set<string>();
  private readonly stopping = new AbortController();
  private effects: Pick<Effects, 'enforce' | 'record'> | undefined;
  private quarantine: KvBucket<QuarantineEntry> | undefined;
  private fleet: KvBucket<FleetTallyEntry> | undefined;
  private vitalsSub: Subscription | undefined;

  /** Whether its vitals consumers are running (started and not stopped): the sentinel's readiness. */
  get consuming(): boolean {
    return this.vitalsSub !== undefined;
  }
  private commandSub: Subscription | undefined;
  private quarantineWatch: KvWatch | undefined;
  private fleetWatch: KvWatch | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickAt = Number.POSITIVE_INFINITY;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private baselinesTimer: NodeJS.Timeout | undefined;
  private fleetTimer: NodeJS.Timeout | undefined;
  private lastTally = '';
  private lastTallyAt = 0;
  private readonly totals: Totals = {
    anomalies: new Map(),
    transitions: new Map(),
    effectFailures: 0,
    checkpointsRefused: 0,
  };
  /** The ack gate handed out with every vital until the next checkpoint starts (one object, not one per vital). */
  private ackGate: DeferredAck | undefined;
  /** Vitals handled (not counting duplicates), for tests and the bench. */
  processed = 0;
  duplicates = 0;

  private readonly operatorTokens: OperatorTokens;

  constructor(private readonly deps: SentinelDeps) {
    this.operatorTokens = loadOperatorTokens(deps.config);
    const { config } = deps;
    this.triage = new AgentTriage(triageConfigFrom(config));
    this.partitions = ownedPartitions(config, deps.bus.topology.partitions);
    this.owned = new Set(this.partitions);
    this.instanceId =
      config.SENTINEL_INSTANCE_ID ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
    this.repos = createRepositories(deps.store.db);
    this.effects = deps.effects;
    this.now = deps.now ?? Date.now;
    this.checkpointer = new Checkpointer({
      triage: this.triage,
      save: (rows) => this.repos.sentinelAgents.saveMany(rows),
      saveBaselines: (rows) => this.repos.sentinelAgents.saveBaselines(rows),
      partitionOf: (agentId) => deps.bus.topology.partitionOf(agentId),
      pendingEffects: (agentId) => this.pending.get(agentId),
      abandoned: this.abandoned,
      now: this.now,
    });
    this.sigmaHistory = new SigmaHistory({
      bucketMs: config.SENTINEL_SIGMA_BUCKET_MS,
      flushMs: config.SENTINEL_SIGMA_FLUSH_MS,
      maxBuckets: config.SENTINEL_SIGMA_MAX_BUCKETS,
      save: (buckets) => this.repos.sigmaBuckets.upsertMany(buckets),
      logger: deps.logger,
      ...(deps.meter === undefined ? {} : { meter: deps.meter }),
    });
    if (deps.meter) this.observe(deps.meter);
  }

  private observe(meter: Meter): void {
    const totals = this.totals;
    const make = instruments(meter);
    make.observedCounter('sentinel_vitals', { description: 'Vitals judged, by outcome' }, (result) => {
      result.observe(this.processed, { outcome: 'judged' });
      result.observe(this.duplicates, { outcome: 'duplicate' });
    });
    make.observedCounter('sentinel_anomalies', { description: 'Anomalies found, by type' }, (result) => {
      for (const [type, count] of totals.anomalies) result.observe(count, { type });
    });
    make.observedCounter(
      'sentinel_transitions',
      { description: 'Lifecycle transitions, by target state' },
      (result) => {
        for (const [to, count] of totals.transitions) result.observe(count, { to });
      },
    );
    make.observedCounter(
      'sentinel_effect_failures',
      { description: 'Failed attempts to write a decision (retried)' },
      (result) => result.observe(totals.effectFailures),
    );
    make.observedCounter(
      'sentinel_checkpoints_refused',
      {
        description:
          'Agent checkpoints refused at start (another layout or a damaged row); the agent started fresh',
      },
      (result) => result.observe(totals.checkpointsRefused),
    );
    make.observedGauge('sentinel_agents', { description: 'Agents held in memory' }, (result) =>
      result.observe(this.triage.size),
    );
    make.observedGauge(
      'sentinel_pending_effects',
      { description: 'Agents whose decisions are still being written (KV, rows, events)' },
      (result) => result.observe(this.pending.size),
    );
  }

  /** Agents whose decisions are still being written. */
  get pendingEffects(): number {
    return this.pending.size;
  }

  ownsAgent(agentId: string): boolean {
    return this.owned.has(this.deps.bus.topology.partitionOf(agentId));
  }

  /** Restores the owned partitions' state, then starts consuming, timers, the fleet exchange and commands. */
  async start(): Promise<void> {
    const { bus, config, logger } = this.deps;
    const restored = await this.restore();
    logger.info(
      {
        event: 'sentinel-restored',
        agents: restored,
        partitions: this.partitions,
        instance: this.instanceId,
      },
      `restored ${restored} agents for ${this.partitions.length} partitions`,
    );
    this.quarantine = await bus.kv(QUARANTINE_BUCKET);
    this.fleet = await bus.kv(FLEET_BUCKET);
    this.effects ??= new Effects({
      bus,
      quarantine: this.quarantine,
      repos: this.repos,
      instanceId: this.instanceId,
    });

    this.fleetWatch = await this.fleet.watch(({ key, value }) => {
      if (key === this.instanceId) return;
      if (value === undefined) this.triage.removePeer(key);
      else this.triage.setPeerTally(key, value);
    });
    await this.fleetWatch.ready;
    this.quarantineWatch = await this.quarantine.watch(({ key, value }) =>
      this.onQuarantineChange(key, value),
    );
    await this.quarantineWatch.ready;
    this.commandSub = await bus.handleCommand(SENTINEL_LIFECYCLE, (request, context) =>
      this.lifecycle(request, context.operatorToken),
    );

    this.checkpointTimer = setInterval(() => {
      this.checkpointer.run().catch((error: unknown) => logger.error({ err: error }, 'checkpoint failed'));
    }, config.SENTINEL_CHECKPOINT_MS);
    this.baselinesTimer = setInterval(() => {
      this.checkpointer
        .refreshBaselines()
        .catch((error: unknown) => logger.warn({ err: error }, 'baselines read model not refreshed'));
    }, config.SENTINEL_BASELINES_MS);
    this.fleetTimer = setInterval(() => this.publishTally(), config.SENTINEL_FLEET_PUBLISH_MS);
    this.sigmaHistory.start();
    this.publishTally();
    this.armTick();

    this.vitalsSub = await bus.consumeVitals({
      durable: config.SENTINEL_DURABLE,
      partitions: this.partitions,
      maxInFlight: config.SENTINEL_MAX_IN_FLIGHT,
      ackWaitMs: config.SENTINEL_ACK_WAIT_MS,
      // After a crash, the dead instance's unacked vitals are judged before anything newer (docs/sentinel.md).
      inOrderRecovery: true,
      handler: (delivery) => this.handle(delivery),
      onDropped: (reason, subject) => logger.warn({ subject, reason }, 'vital dropped'),
    });
  }

  private async restore(): Promise<number> {
    const checkpoints = await this.repos.sentinelAgents.list({ partitions: this.partitions });
    let count = 0;
    for (const { snapshot } of checkpoints) {
      // A deployment that changed IMMUNE_PARTITIONS re-homes agents: only keep the ones this instance owns.
      if (!this.ownsAgent(snapshot.agent_id)) continue;
      try {
        this.triage.restore(snapshot);
        count++;
      } catch (error) {
        // Another build's layout (or a damaged row): misreading it would judge the agent on someone else's
        // numbers, so it starts fresh and its next checkpoint replaces the row.
        this.totals.checkpointsRefused++;
        this.deps.logger.error(
          { event: 'sentinel-checkpoint-refused', agent_id: snapshot.agent_id, err: error },
          `checkpoint of agent ${snapshot.agent_id} refused, the agent starts fresh`,
        );
      }
    }
    return count;
  }

  /**
   * The processing path of one vital: judge it, start what it decided, and ack it once its state is
   * checkpointed. The effects are not awaited here: the checkpoint waits for them before it writes the agent,
   * so an acked vital's effects are always done, and the next vitals are judged meanwhile. Duplicates
   * (redeliveries) change nothing but still wait for a checkpoint, because the state that counted them the
   * first time may not be written yet.
   */
  handle(delivery: VitalDelivery): DeferredAck {
    const decisions = this.triage.observe(delivery.vital, delivery.streamSeq);
    if (!isDuplicate(decisions)) this.sigmaHistory.record(delivery.vital, this.triage.judgement);
    this.account(decisions);
    if (decisions.length > 0 && Effects.needed(decisions)) {
      // A rejection means abandoned at shutdown; the checkpointer then never writes the agent.
      const agentId = delivery.vital.agent_id;
      if (decisions.every((d) => d.kind === 'fleet' || agentOf(d) === agentId)) {
        this.run(agentId, decisions).catch(() => undefined);
      } else {
        // A vital that turned a cause fleet-wide also releases other agents' soft containment: each agent's
        // decisions run on that agent's own chain, so bucket writes for one agent never overtake each other.
        for (const [id, list] of groupByAgent(decisions)) this.run(id, list).catch(() => undefined);
      }
    }
    const due = this.triage.nextDue();
    if (due !== undefined && due < this.tickAt) this.armTick();
    const commit = this.checkpointer.nextCommit();
    if (this.ackGate?.ackWhen !== commit) this.ackGate = { ackWhen: commit };
    return this.ackGate;
  }

  private account(decisions: readonly TriageDecision[]): void {
    if (isDuplicate(decisions)) {
      this.duplicates++;
      return;
    }
    this.processed++;
    for (const d of decisions) {
      if (d.kind === 'anomalies') for (const a of d.anomalies) bump(this.totals.anomalies, a.type);
      else if (d.kind === 'transition') bump(this.totals.transitions, d.transition.to);
    }
  }

  /**
   * Runs an agent's effects in its decision order, retrying until they succeed or shutdown. The quarantine
   * bucket has its own chain: a quarantine must reach the gateway without waiting for the rows and events of
   * the agent's previous decisions, and bucket writes still never overtake each other.
   */
  private run(agentId: string, decisions: readonly TriageDecision[], skipRelease = false): Promise<void> {
    const effects = this.effects!;
    const options = { skipRelease };
    let enforced = Promise.resolve();
    if (Effects.enforcing(decisions)) {
      const before = this.enforcing.get(agentId) ?? Promise.resolve();
      enforced = before
        .catch(() => undefined)
        .then(() => this.withRetry(agentId, () => effects.enforce(decisions, options)));
      this.track(this.enforcing, agentId, enforced);
    }
    const before = this.pending.get(agentId) ?? Promise.resolve();
    const recorded = before
      .catch(() => undefined)
      .then(() => this.withRetry(agentId, () => effects.record(decisions, options)));
    const attempt = Promise.all([enforced, recorded]).then(() => undefined);
    this.track(this.pending, agentId, attempt);
    return attempt;
  }

  private track(tails: Map<string, Promise<void>>, agentId: string, tail: Promise<void>): void {
    tails.set(agentId, tail);
    const clear = () => {
      if (tails.get(agentId) === tail) tails.delete(agentId);
    };
    tail.then(clear, clear);
  }

  private async withRetry(agentId: string, effect: () => Promise<void>): Promise<void> {
    let delay = 50;
    for (;;) {
      try {
        await effect();
        return;
      } catch (error) {
        this.totals.effectFailures++;
        if (this.stopping.signal.aborted) {
          // Never checkpoint a decision whose effects are lost: its vitals stay unacked and are replayed.
          this.abandoned.add(agentId);
          throw new EffectsAbandonedError(`effects for ${agentId} abandoned at shutdown`, { cause: error });
        }
        this.deps.logger.warn({ err: error, agent_id: agentId }, 'writing a decision failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  private armTick(): void {
    const due = this.triage.nextDue();
    if (due === undefined) {
      if (this.tickTimer) clearTimeout(this.tickTimer);
      this.tickTimer = undefined;
      this.tickAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.tickTimer && due >= this.tickAt) return;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickAt = due;
    this.tickTimer = setTimeout(() => this.onTick(), Math.max(0, due - this.now()));
  }

  private onTick(): void {
    this.tickTimer = undefined;
    this.tickAt = Number.POSITIVE_INFINITY;
    if (this.stopping.signal.aborted) return;
    const decisions = this.triage.tick(this.now());
    this.account(decisions);
    for (const [agentId, list] of groupByAgent(decisions)) {
      this.run(agentId, list).catch((error: unknown) =>
        this.deps.logger.error({ err: error, agent_id: agentId }, 'timed transition not written'),
      );
    }
    this.armTick();
  }

  /** An operator deleted a quarantine entry (gateway management API): the agent is released. */
  private onQuarantineChange(agentId: string, value: QuarantineEntry | undefined): void {
    if (value !== undefined || !this.ownsAgent(agentId)) return;
    const lifecycle = this.triage.lifecycleOf(agentId);
    if (lifecycle === undefined || !isBlocked(lifecycle.state)) return;
    const result = this.triage.apply(agentId, 'released', this.now(), { reason: 'quarantine lifted' });
    if (!result.ok) return;
    this.account(result.decisions);
    // The entry is already gone and whoever removed it announced it.
    this.run(agentId, result.decisions, true).catch((error: unknown) =>
      this.deps.logger.error({ err: error, agent_id: agentId }, 'release not written'),
    );
    this.armTick();
  }

  private publishTally(): void {
    const fleet = this.fleet;
    if (!fleet || this.stopping.signal.aborted) return;
    const now = this.now();
    const tally = this.triage.fleetTally(now);
    const counts = JSON.stringify(tally.counts);
    const key = `${tally.fleet_size}|${counts}`;
    // Unchanged tallies are only refreshed as a heartbeat, so an idle fleet costs almost nothing.
    if (key === this.lastTally && now - this.lastTallyAt < 5_000) return;
    this.lastTally = key;
    this.lastTallyAt = now;
    const entry: FleetTallyEntry = {
      ...tally,
      instance: this.instanceId,
      partitions: [...this.partitions],
      ts: Math.floor(tally.ts),
    };
    fleet.put(this.instanceId, entry).catch((error: unknown) => {
      this.lastTally = '';
      this.deps.logger.warn({ err: error }, 'fleet tally not published');
    });
  }

  /**
   * `sentinel.lifecycle`: without a trigger a query; with one (the healer, or an operator through it) the
   * transition is applied by the triage, its effects are carried out like a vital's, and the agent is
   * checkpointed before the reply, so the answer is a durable fact.
   */
  private async lifecycle(request: LifecycleRequest, operatorToken: string | undefined) {
    const agentId = request.agent_id;
    if (request.trigger !== undefined) {
      // A release is an operator's act (the healer forwards their token): checked here, where it is carried
      // out, and recorded under the token's name. The healer's own triggers are service-to-service.
      const operator =
        request.trigger === 'released' || request.by === 'operator'
          ? authorizeOperator(
              this.operatorTokens,
              operatorToken,
              'operator',
              `sentinel.lifecycle ${request.trigger}`,
            )
          : undefined;
      await this.applyTrigger(request, request.trigger, operator?.name);
    }
    const events = this.repos.lifecycleEvents;
    const known = this.ownsAgent(agentId) ? this.triage.lifecycleOf(agentId) : undefined;
    const latest =
      known ??
      (await events
        .latest(agentId)
        .then((t) => t && { agent_id: agentId, state: t.to, entered_at: t.ts, seq: t.seq }));
    if (!latest) throw coded('not_found', `the sentinel has not seen agent '${agentId}'`);
    const history = await events.history(agentId, { afterSeq: Math.max(0, latest.seq - 100) });
    // Probation and baselines come from the triage state: this instance's own when it owns the agent, else
    // the owner's checkpoint (every instance runs the same config), so any instance answers a query alike.
    const snapshot = known
      ? this.triage.snapshot(agentId)
      : (await this.repos.sentinelAgents.get(agentId))?.snapshot;
    return {
      ...latest,
      history,
      ...(snapshot === undefined ? {} : triageView(snapshot, this.triage.config)),
    };
  }

  private async applyTrigger(
    request: LifecycleRequest,
    trigger: ExternalLifecycleTrigger,
    operator: string | undefined,
  ): Promise<void> {
    const agentId = request.agent_id;
    if (!this.ownsAgent(agentId)) {
      // Another instance owns the agent's partition; commands are load-balanced, so the caller retries.
      throw coded('not_owner', `agent '${agentId}' belongs to a partition this sentinel does not own`);
    }
    if (this.triage.lifecycleOf(agentId) === undefined)
      throw coded('not_found', `the sentinel has not seen agent '${agentId}'`);
    // adapt_baseline: the triage always switches the baselines to fast adaptation on healing_succeeded.
    // An operator's transition names them in the lifecycle history, whatever reason the request gives.
    const reason =
      operator === undefined
        ? request.reason
        : `${trigger} by ${operator}${request.reason === undefined ? '' : `: ${request.reason}`}`;
    const result = this.triage.apply(agentId, trigger, this.now(), {
      ...(reason === undefined ? {} : { reason }),
      ...(request.infection_id === undefined ? {} : { infectionId: request.infection_id }),
      ...(request.action === undefined ? {} : { action: request.action }),
    });
    if (!result.ok) {
      const code =
        result.error instanceof IllegalTransitionError ? 'illegal_transition' : 'transition_refused';
      throw coded(code, result.error.message);
    }
    this.account(result.decisions);
    this.armTick();
    const moved = result.decisions.find((d) => d.kind === 'transition');
    this.deps.logger.info(
      {
        event: 'lifecycle-applied',
        agent_id: agentId,
        trigger,
        by: operator ?? 'healer',
        to: moved?.kind === 'transition' ? moved.transition.to : undefined,
        infection_id: request.infection_id,
        action: request.action,
      },
      `${trigger} applied`,
    );
    // The same path as a vital's decisions: retried until done (or shutdown), then the state is written.
    await this.run(agentId, result.decisions);
    await this.checkpointer.run();
  }

  /** Work phase of shutdown: stop taking vitals and timers, then checkpoint so the last vitals get acked. */
  async stopWork(): Promise<void> {
    // First, so effects stuck retrying against an unreachable NATS or database give up instead of holding
    // the shutdown: their vitals are not acked and come back after the restart.
    this.stopping.abort();
    await this.vitalsSub?.stop();
    this.vitalsSub = undefined;
    await this.commandSub?.stop();
    if (this.tickTimer) clearTimeout(this.tickTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.baselinesTimer) clearInterval(this.baselinesTimer);
    if (this.fleetTimer) clearInterval(this.fleetTimer);
    await this.fleetWatch?.stop();
    await this.quarantineWatch?.stop();
    await Promise.allSettled([...this.pending.values()]);
    await this.fleet?.delete(this.instanceId).catch(() => undefined);
    await this.checkpoint();
    // Housekeeping after the acks: the σ history of the last vitals, then the baselines read model.
    await this.sigmaHistory.stop();
    await this.checkpointer
      .refreshBaselines()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'baselines read model not refreshed'));
  }

  /** Writes every changed agent now (store-flush phase, tests). */
  checkpoint(): Promise<void> {
    return this.checkpointer.run();
  }

  /** Copies the checkpointed baselines into the `baselines` read model now (tests). */
  refreshBaselines(): Promise<void> {
    return this.checkpointer.refreshBaselines();
  }

  get lastCheckpoint(): { rows: number; durationMs: number } {
    return { rows: this.checkpointer.lastRows, durationMs: this.checkpointer.lastDurationMs };
  }
}

type LifecycleRequest = Static<(typeof SENTINEL_LIFECYCLE)['request']>;

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

function isDuplicate(decisions: readonly TriageDecision[]): boolean {
  return decisions.length === 1 && decisions[0]!.kind === 'duplicate';
}

function groupByAgent(decisions: readonly TriageDecision[]): Map<string, TriageDecision[]> {
  const byAgent = new Map<string, TriageDecision[]>();
  for (const d of decisions) {
    const agentId = agentOf(d);
    let list = byAgent.get(agentId);
    if (!list) {
      list = [];
      byAgent.set(agentId, list);
    }
    list.push(d);
  }
  return byAgent;
}

function agentOf(decision: TriageDecision): string {
  switch (decision.kind) {
    case 'transition':
      return decision.transition.agent_id;
    case 'infection':
      return decision.report.agent_id;
    case 'quarantine':
      return decision.order.agent_id;
    case 'release':
    case 'probation':
    case 'anomalies':
      return decision.agent_id;
    case 'fleet':
      return `fleet:${decision.correlation.anomaly_type}`;
    default:
      return '';
  }
}
