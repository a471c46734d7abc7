import {
  ANOMALY_TYPES,
  type Anomaly,
  type AnomalyType,
  buildInfectionReport,
  METRIC_ANOMALY_TYPES,
} from './anomaly.js';
import { softContainment } from './containment.js';
import { FleetCorrelator, UPSTREAM_SYMPTOMS } from './correlator.js';
import { DeadlineHeap } from './deadline-heap.js';
import { AgentDetector, JUDGEMENT_LENGTH } from './detector.js';
import type { FleetTally } from './fleet-tally.js';
import { djb2, fnv1a } from './hash.js';
import {
  type AgentLifecycle,
  checkTransition,
  IllegalTransitionError,
  isBlocked,
  type LifecycleTrigger,
  transition,
} from './lifecycle.js';
import type { QuarantineOrder } from './quarantine-order.js';
import { RepetitionTracker } from './repetition.js';
import { AgentRecord, KIND_INDEX } from './triage-agent.js';
import {
  type AgentTriageSnapshot,
  type EvidenceEntry,
  restoreAgent,
  snapshotAgent,
} from './triage-checkpoint.js';
import { DEFAULT_TRIAGE_CONFIG, type TriageConfig } from './triage-config.js';
import type { ApplyResult, ExternalTrigger, TriageDecision } from './triage-decision.js';
import type { Vital, VitalKind } from './vital.js';

/**
 * The sentinel's decision module: every rule that turns a stream of vitals into lifecycle moves, infections,
 * quarantines and fleet verdicts, with no I/O and no clock of its own. The sentinel service, `immune replay`
 * and the detection benchmark all drive this same class, so a backtest makes exactly the decisions production
 * would.
 *
 * Time: `observe` runs on the vital's own timestamp (per agent, never going backwards), `tick(now)` on
 * whatever clock the caller drives timers with. Nothing polls: `nextDue()` says when the next time-based
 * transition (suspect window over, fleet hold over, drain timeout, probation over) can happen.
 */

const NOTHING: readonly TriageDecision[] = Object.freeze([]);
const DUPLICATE: readonly TriageDecision[] = Object.freeze([Object.freeze({ kind: 'duplicate' as const })]);
/**
 * Per-agent triage for the agents one sentinel instance owns, plus that instance's share of the fleet view.
 *
 * ```ts
 * const triage = new AgentTriage(triageConfig({ fleetHoldMs: 2_000 }));
 * for (const d of triage.observe(vital)) apply(d);        // on every vital, in per-agent stream order
 * setTimeout(() => triage.tick(Date.now()).forEach(apply), triage.nextDue() - Date.now());
 * ```
 *
 * Decisions are deterministic: the same vitals (per agent in the same order), ticks and peer tallies give the
 * same decisions, which is what makes replays, checkpoints and split deployments agree.
 */
export class AgentTriage {
  readonly config: TriageConfig;
  /**
   * What the detector judged of the last vital `observe` did not call a duplicate, per baseline metric (see
   * `AgentDetector.judgement`): overwritten by the next vital, so read it before judging another.
   */
  readonly judgement = new Float64Array(JUDGEMENT_LENGTH).fill(Number.NaN);
  private readonly agents = new Map<string, AgentRecord>();
  private readonly correlator: FleetCorrelator;
  private readonly peers = new Map<string, FleetTally>();
  private readonly heap = new DeadlineHeap();
  /** Agents changed since the last `takeDirty`: a flag on the record and a list, no hashing per vital. */
  private dirty: AgentRecord[] = [];
  private readonly lastFleetEmit = new Map<AnomalyType, number>();
  /** Ids of the softly contained agents: checked for a fleet-wide explanation when any type turns fleet-wide. */
  private readonly softContained = new Set<string>();
  private activeCount = 0;
  private activeComputedAt = Number.NEGATIVE_INFINITY;

  constructor(config: TriageConfig = DEFAULT_TRIAGE_CONFIG) {
    this.config = config;
    this.correlator = new FleetCorrelator(config.correlator);
  }

  /** Agents this triage holds state for. */
  get size(): number {
    return this.agents.size;
  }

  has(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  /** The agent's lifecycle position, or undefined for an agent never seen. */
  lifecycleOf(agentId: string): AgentLifecycle | undefined {
    const agent = this.agents.get(agentId);
    return agent === undefined ? undefined : { ...agent.lifecycle };
  }

  /** The agent's detector for one vital kind (read-only use: baselines for dashboards and tests). */
  detectorOf(agentId: string, kind: VitalKind): AgentDetector | undefined {
    return this.agents.get(agentId)?.detectors[KIND_INDEX[kind]];
  }

  agentIds(): IterableIterator<string> {
    return this.agents.keys();
  }

  /**
   * Judges one vital and returns what follows from it; a duplicate returns a single `duplicate` decision and
   * changes nothing. Two checks, for two kinds of duplicate:
   *
   * - `streamSeq`, the vital's stream sequence (`VitalDelivery.streamSeq`), at or below the highest one this
   *   agent has applied: a redelivery, however late. This relies on an agent's vitals reaching the triage in
   *   stream-sequence order, which holds because they all share one partition (one consumer, handed out in
   *   order, and in-order recovery after a takeover). Sources without a stream (replays) pass none.
   * - the vital's id among the agent's last `dedupeWindow` ids: the same vital stored twice under different
   *   sequences, which the stream's own duplicate window misses (a publisher retrying after a bus outage
   *   longer than that window) and a replayed file may hold.
   */
  observe(vital: Vital, streamSeq?: number): readonly TriageDecision[] {
    const config = this.config;
    let agent = this.agents.get(vital.agent_id);
    const idA = fnv1a(vital.id);
    const idB = djb2(vital.id);
    if (agent === undefined) {
      agent = new AgentRecord(vital.agent_id, vital.ts, config.dedupeWindow, config.recentVitals);
      this.agents.set(vital.agent_id, agent);
    } else if ((streamSeq !== undefined && streamSeq <= agent.streamSeq) || agent.seenId(idA, idB)) {
      return DUPLICATE;
    }
    if (streamSeq !== undefined) agent.streamSeq = streamSeq;
    agent.rememberId(idA, idB);
    this.touch(agent);
    const now = Math.max(vital.ts, agent.clock);
    agent.clock = now;
    if (vital.ts > agent.lastSeen) agent.lastSeen = vital.ts;
    agent.recent.push(vital);

    if (agent.externalUntil !== 0 && now >= agent.externalUntil) {
      // The fleet-wide upstream failure is over for this agent. Its error and retry windows still hold the
      // calls that failed in it, which are not its own doing: start them afresh.
      agent.externalUntil = 0;
      for (const d of agent.detectors) d?.resetEvidence();
    }
    const kindIndex = KIND_INDEX[vital.kind];
    let detector = agent.detectors[kindIndex];
    if (detector === undefined) {
      detector = new AgentDetector(config.detector);
      agent.detectors[kindIndex] = detector;
    }
    // On probation the cure has put the baselines into fast adaptation, which learns every vital, anomalous
    // or not. A relapse must not become the new normal (the same relapse after the next cure would go
    // unseen), so the detector forgets a vital it flags there.
    const before =
      agent.lifecycle.state === 'PROBATION' && detector.adapting ? detector.snapshot() : undefined;
    let anomalies = detector.observe(vital);
    // Before a relapse is forgotten below: the σ it was judged at is what a history of σ must show.
    detector.judgement(this.judgement);
    if (before !== undefined && anomalies.length > 0) {
      detector = AgentDetector.restore(before, config.detector);
      agent.detectors[kindIndex] = detector;
    }
    const loop = this.repetition(agent, vital);
    if (loop !== undefined) anomalies = mergeAnomaly(anomalies, loop);

    let decisions: TriageDecision[] | undefined;
    if (anomalies.length > 0) {
      decisions = [
        { kind: 'anomalies', agent_id: vital.agent_id, vital_id: vital.id, ts: vital.ts, anomalies },
      ];
    }

    switch (agent.lifecycle.state) {
      case 'INITIALIZING':
        if (detector.warm) decisions = this.move(agent, 'baseline_ready', { now }, decisions);
        break;
      case 'HEALTHY':
      case 'SUSPECTED':
        if (anomalies.length > 0) {
          let corroborated = 0;
          for (const anomaly of anomalies) {
            const type = anomaly.type;
            if (type === loop?.type || !METRIC_ANOMALY_TYPES.has(type) || detector.sustained(type)) {
              corroborated |= 1 << TYPE_BIT[type];
            }
          }
          decisions = this.suspect(agent, anomalies, corroborated, now, decisions);
        }
        break;
      case 'PROBATION': {
        // The cured problem coming back is a relapse at its first vital; anything else needs the same
        // corroboration as an escalation, so one noisy vital (a latency blip on a busy host) cannot undo a
        // cure. Such a vital does not count as a clean one either.
        const relapse = anomalies.filter(
          (anomaly) =>
            agent.infectionTypes.includes(anomaly.type) ||
            anomaly.type === loop?.type ||
            !METRIC_ANOMALY_TYPES.has(anomaly.type) ||
            detector.sustained(anomaly.type),
        );
        if (anomalies.length > 0 && relapse.length === 0) break;
        decisions = this.probation(agent, relapse, now, decisions);
        break;
      }
      default:
        // DRAINING, QUARANTINED, HEALING, EXHAUSTED: the agent is blocked; what still arrives is in-flight
        // work finishing, which keeps feeding the baseline but decides nothing.
        break;
    }
    return decisions ?? NOTHING;
  }

  /** Runs every time-based transition due at `now`. Call it when `nextDue()` is reached. */
  tick(now: number): TriageDecision[] {
    const decisions: TriageDecision[] = [];
    const heap = this.heap;
    while (heap.size > 0 && heap.peek()! <= now) {
      const entry = heap.pop();
      const agent = this.agents.get(entry.agentId);
      if (agent === undefined || agent.armed !== entry.at) continue;
      agent.armed = Number.NaN;
      const at = Math.max(now, agent.clock);
      agent.clock = at;
      this.touch(agent);
      this.timed(agent, at, decisions);
      this.arm(agent);
    }
    return decisions;
  }

  /** When `tick` next has something to do (epoch ms), or undefined when nothing is pending. */
  nextDue(): number | undefined {
    return this.heap.peek();
  }

  /**
   * Applies a transition decided elsewhere: the healer (healing_started, healing_succeeded, exhausted) or an
   * operator (released). An edge that does not exist or a guard that refuses is returned, never thrown.
   */
  apply(
    agentId: string,
    trigger: ExternalTrigger,
    now: number,
    info: { reason?: string; infectionId?: string; action?: string } = {},
  ): ApplyResult {
    const config = this.config;
    const agent = this.agents.get(agentId);
    if (agent === undefined) return { ok: false, error: new IllegalTransitionError('INITIALIZING', trigger) };
    const at = Math.max(now, agent.clock);
    const ctx = { now: at, ...(info.reason === undefined ? {} : { reason: info.reason }) };
    const check = checkTransition(agent.lifecycle, trigger, ctx, config.lifecycle);
    if (!check.ok) return { ok: false, error: check.error };
    agent.clock = at;
    this.touch(agent);
    if (info.infectionId !== undefined) agent.infectionId = info.infectionId;
    if (info.action !== undefined) agent.action = info.action;
    const wasBlocked = isBlocked(agent.lifecycle.state);
    const decisions = this.move(agent, trigger, ctx, undefined) ?? [];
    const state = agent.lifecycle.state;
    if (trigger === 'healing_succeeded') {
      // The cure changes what normal looks like: learn the next vitals fast instead of flagging them.
      for (const detector of agent.detectors) detector?.adapt();
      agent.cleanVitals = 0;
    }
    if (isBlocked(state)) {
      decisions.push({ kind: 'quarantine', order: this.order(agent, info.reason ?? trigger, at) });
    } else if (wasBlocked) {
      decisions.push(this.release(agent, info.reason ?? trigger, at));
    }
    if (state === 'HEALTHY') {
      this.clearEpisode(agent);
      if (wasBlocked) for (const detector of agent.detectors) detector?.resetEvidence();
    }
    return { ok: true, decisions };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Fleet view

  /** This instance's share of the fleet view at `now`: what it publishes for the other instances. */
  fleetTally(now: number): FleetTally {
    const fleetSize = this.localFleetSize(now);
    const counts: FleetTally['counts'] = {};
    for (const type of ANOMALY_TYPES) {
      const agents = this.correlator.assess(type, now, fleetSize).agents;
      if (agents > 0) counts[type] = agents;
    }
    return { ts: now, window_ms: this.config.correlator.windowMs, fleet_size: fleetSize, counts };
  }

  /** Records (or replaces) another instance's tally; it counts until it is `peerStaleMs` old. */
  setPeerTally(peerId: string, tally: FleetTally): void {
    this.peers.set(peerId, tally);
  }

  removePeer(peerId: string): void {
    this.peers.delete(peerId);
  }

  /** Fleet-wide verdict for one anomaly type: this instance's agents plus every fresh peer tally. */
  assessFleet(
    type: AnomalyType,
    now: number,
  ): { correlated: boolean; affected: number; fleetSize: number; fraction: number } {
    const localFleet = this.localFleetSize(now);
    let affected = this.correlator.assess(type, now, localFleet).agents;
    let fleetSize = localFleet;
    for (const tally of this.peers.values()) {
      if (now - tally.ts > this.config.peerStaleMs) continue;
      affected += tally.counts[type] ?? 0;
      fleetSize += tally.fleet_size;
    }
    const fraction = fleetSize > 0 ? affected / Math.max(fleetSize, affected) : 0;
    const { minAgents, minFraction } = this.config.correlator;
    return { correlated: affected >= minAgents && fraction >= minFraction, affected, fleetSize, fraction };
  }

  /**
   * Whether an anomaly of `type` in this agent is explained by the fleet: the type is fleet-wide right now, or
   * it is an upstream symptom and the agent was recently part of a fleet-wide upstream failure (a provider
   * outage shows as latency first and as an error rate only some calls later, by when the first agents
   * would already have been escalated on errors the fleet has not yet tallied).
   */
  private explained(agent: AgentRecord, type: AnomalyType, now: number): boolean {
    if (this.assessFleet(type, now).correlated) {
      if (UPSTREAM_SYMPTOMS.has(type)) agent.externalUntil = now + this.config.correlator.windowMs;
      return true;
    }
    return UPSTREAM_SYMPTOMS.has(type) && now < agent.externalUntil;
  }

  private localFleetSize(now: number): number {
    // Recounted at most once a second of event time: O(agents) then, O(1) on every other call.
    if (now - this.activeComputedAt < 1_000 && now >= this.activeComputedAt) return this.activeCount;
    const oldest = now - this.config.activeWindowMs;
    let count = 0;
    for (const agent of this.agents.values()) if (agent.lastSeen >= oldest) count++;
    this.activeCount = count;
    this.activeComputedAt = now;
    return count;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Checkpoints

  /** Agents whose state changed since the last call, and forgets them: what a checkpoint must write. */
  takeDirty(): string[] {
    const records = this.dirty;
    this.dirty = [];
    const ids: string[] = [];
    for (const agent of records) {
      agent.dirty = false;
      const id = agent.lifecycle.agent_id;
      // A forgotten (or since restored) agent's old record is not what a checkpoint should write.
      if (this.agents.get(id) === agent) ids.push(id);
    }
    return ids;
  }

  /** Puts agents back on the dirty list (their checkpoint failed). */
  markDirty(agentIds: Iterable<string>): void {
    for (const id of agentIds) {
      const agent = this.agents.get(id);
      if (agent !== undefined) this.touch(agent);
    }
  }

  private touch(agent: AgentRecord): void {
    if (agent.dirty) return;
    agent.dirty = true;
    this.dirty.push(agent);
  }

  snapshot(agentId: string): AgentTriageSnapshot | undefined {
    const agent = this.agents.get(agentId);
    return agent === undefined ? undefined : snapshotAgent(agent);
  }

  /**
   * Loads an agent from a checkpoint, replacing what was held for it. A checkpoint of another layout throws
   * `CheckpointMismatchError` and changes nothing: the agent is then learned afresh from its next vital.
   */
  restore(snapshot: AgentTriageSnapshot): void {
    const agent = restoreAgent(snapshot, this.config);
    if (agent.softContained) this.softContained.add(snapshot.agent_id);
    else this.softContained.delete(snapshot.agent_id);
    const previous = this.agents.get(snapshot.agent_id);
    this.agents.set(snapshot.agent_id, agent);
    if (previous?.dirty) this.touch(agent);
    this.arm(agent);
  }

  /** Forgets an agent (e.g. its partition moved to another instance). */
  forget(agentId: string): void {
    this.agents.delete(agentId);
    this.softContained.delete(agentId);
  }

  // ---------------------------------------------------------------------------------------------------------
  // The state machine

  /**
   * Loops and retry storms from what repeats: the same tool with the same arguments, or the same request,
   * again and again inside the repetition window, whatever the counts per call look like. Reported as
   * `tool_explosion` (a tool-call loop) or `high_retry_rate` (the same failing or retried request), with a σ
   * that reaches the type's threshold at `minRepeats` repeats and grows linearly beyond.
   */
  private repetition(agent: AgentRecord, vital: Vital): Anomaly | undefined {
    const hash = vital.request_hash;
    if (hash === undefined) return undefined;
    agent.repetition ??= new RepetitionTracker(this.config.repetition);
    const toolCall = vital.kind === 'tool' || vital.tool_calls > 0;
    const fingerprint = vital.kind === 'tool' ? `t:${vital.tool_name ?? ''}:${hash}` : `r:${hash}`;
    const repeats = agent.repetition.observe(fingerprint, vital.ts);
    if (!agent.repetition.isLoop(repeats)) return undefined;
    const retrying = !vital.success || vital.retries > 0 || !toolCall;
    const type = retrying ? 'high_retry_rate' : 'tool_explosion';
    const threshold = this.config.detector.thresholds[type];
    const sigma = Math.min(
      (threshold * repeats) / this.config.repetition.minRepeats,
      this.config.detector.maxSigma,
    );
    return {
      type,
      metric: retrying ? 'retry_rate' : 'tool_calls',
      observed: repeats,
      expected: 1,
      sigma,
    };
  }

  /**
   * HEALTHY or SUSPECTED agent with anomalies: open or feed the suspicion, then see if it can be decided.
   * `corroborated` has a bit (TYPE_BIT) per anomaly type that is backed by more than this one vital.
   */
  private suspect(
    agent: AgentRecord,
    anomalies: readonly Anomaly[],
    corroborated: number,
    now: number,
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] | undefined {
    const agentId = agent.lifecycle.agent_id;
    for (const anomaly of anomalies) this.correlator.observe(agentId, anomaly.type, now);
    // A cause that has just turned fleet-wide frees the agents softly contained for it, at once.
    if (this.softContained.size > 0) decisions = this.releaseExplained(anomalies, now, decisions);
    // An anomaly the whole fleet shows right now is not evidence against this agent.
    let own: Anomaly[] | undefined;
    let ownCorroborated = 0;
    for (const anomaly of anomalies) {
      if (this.explained(agent, anomaly.type, now)) continue;
      own ??= [];
      own.push(anomaly);
      ownCorroborated |= corroborated & (1 << TYPE_BIT[anomaly.type]);
    }
    if (own === undefined) return decisions;
    const opening = agent.lifecycle.state === 'HEALTHY';
    if (opening) agent.evidence = [];
    for (const anomaly of own) {
      addEvidence(agent.evidence, anomaly, (ownCorroborated & (1 << TYPE_BIT[anomaly.type])) !== 0);
    }
    const severe = own.some(
      (a) => a.sigma >= this.config.severeSigma && (ownCorroborated & (1 << TYPE_BIT[a.type])) !== 0,
    );
    if (opening) {
      // Without a fleet hold there is nothing to wait for: the severe edge goes straight to DRAINING.
      if (severe && this.config.fleetHoldMs === 0)
        return this.escalate(agent, 'severe_anomaly', now, decisions);
      decisions = this.move(agent, 'anomaly_detected', { now, reason: describe(own) }, decisions);
    }
    // The first severe, corroborated vital limits the damage at once; the fleet hold still decides the rest.
    // Once the hold is over (or without one) the severe evidence escalates right away: nothing to soften.
    const holding = now - agent.lifecycle.entered_at < this.config.fleetHoldMs;
    if (severe && holding && !agent.softContained && this.config.containment.soft) {
      decisions ??= [];
      decisions.push({ kind: 'quarantine', order: this.soften(agent, own, now) });
    }
    return this.decideSuspicion(agent, now, decisions, false);
  }

  /**
   * SUSPECTED: escalate when the hold is over and the evidence that is not fleet-wide suffices; clear when the
   * window is over (or when everything seen turned out fleet-wide). Otherwise keep waiting.
   */
  private decideSuspicion(
    agent: AgentRecord,
    now: number,
    decisions: TriageDecision[] | undefined,
    fromTimer: boolean,
  ): TriageDecision[] | undefined {
    const config = this.config;
    const entered = agent.lifecycle.entered_at;
    const windowOver = now - entered >= config.lifecycle.suspectWindowMs;
    if (now - entered < config.fleetHoldMs && !windowOver) {
      this.arm(agent);
      return decisions;
    }
    // Drop evidence of types that have become fleet-wide since they were seen.
    const external: AnomalyType[] = [];
    const kept: EvidenceEntry[] = [];
    for (const entry of agent.evidence) {
      const type = entry.anomaly.type;
      const fleet = this.assessFleet(type, now);
      if (fleet.correlated) {
        external.push(type);
        decisions = this.emitFleet(type, fleet, now, decisions);
        if (UPSTREAM_SYMPTOMS.has(type)) agent.externalUntil = now + config.correlator.windowMs;
      } else if (this.explained(agent, type, now)) {
        external.push(type);
      } else {
        kept.push(entry);
      }
    }
    agent.evidence = kept;
    let count = 0;
    let severe = false;
    // Anomalous vitals, not anomalies: one spike moves tokens, input, output and cost together. The largest
    // per-type count is a lower bound on the vitals that carried evidence still standing. Evidence the
    // detector never corroborated (one-off spikes of a per-vital metric) does not escalate at all: on
    // heavy-tailed traffic single vitals far out happen every few thousand calls.
    for (const entry of kept) {
      if (!entry.corroborated) continue;
      if (entry.count > count) count = entry.count;
      if (entry.anomaly.sigma >= config.severeSigma) severe = true;
    }
    if (severe || count >= config.lifecycle.confirmAnomalies) {
      const trigger = severe ? 'severe_anomaly' : 'suspicion_confirmed';
      const check = checkTransition(
        agent.lifecycle,
        trigger,
        { now, anomaliesInWindow: count },
        config.lifecycle,
      );
      if (check.ok) return this.escalate(agent, trigger, now, decisions, count);
    }
    if (kept.length === 0 && external.length > 0) {
      const reason = `external cause: fleet-wide ${external.join(', ')}`;
      decisions = this.move(agent, 'suspicion_cleared', { now, reason }, decisions);
      this.clearEpisode(agent);
      return decisions;
    }
    if (windowOver) {
      decisions = this.move(
        agent,
        'suspicion_cleared',
        { now, reason: `not confirmed within ${config.lifecycle.suspectWindowMs} ms` },
        decisions,
      );
      this.clearEpisode(agent);
      return decisions;
    }
    if (!fromTimer) this.arm(agent);
    return decisions;
  }

  private escalate(
    agent: AgentRecord,
    trigger: 'severe_anomaly' | 'suspicion_confirmed',
    now: number,
    decisions: TriageDecision[] | undefined,
    count = 1,
  ): TriageDecision[] {
    const anomalies = agent.evidence.map((e) => e.anomaly);
    const reason = describe(anomalies);
    const out = this.move(agent, trigger, { now, anomaliesInWindow: count, reason }, decisions) ?? [];
    // The episode's evidence has been acted on; whatever comes next starts from scratch.
    for (const detector of agent.detectors) detector?.resetEvidence();
    const infectionId = `${agent.lifecycle.agent_id}#${agent.lifecycle.seq}`;
    agent.infectionId = infectionId;
    agent.action = undefined;
    out.push({
      kind: 'infection',
      report: buildInfectionReport({
        id: infectionId,
        agentId: agent.lifecycle.agent_id,
        ts: now,
        anomalies,
        recentVitals: agent.recent.toArray(),
        thresholds: this.config.severity,
      }),
    });
    out.push({ kind: 'quarantine', order: this.order(agent, reason, now) });
    // The evidence stays while the agent drains: if the fleet turns out to share it, the drain is released.
    return out;
  }

  private probation(
    agent: AgentRecord,
    anomalies: readonly Anomaly[],
    now: number,
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] | undefined {
    if (anomalies.length > 0) {
      const clean = agent.cleanVitals;
      decisions = this.move(agent, 'relapse', { now, reason: describe(anomalies) }, decisions) ?? [];
      decisions.push(this.probationOutcome(agent, false, clean, anomalies));
      decisions.push({ kind: 'quarantine', order: this.order(agent, describe(anomalies), now) });
      agent.cleanVitals = 0;
      return decisions;
    }
    agent.cleanVitals++;
    return this.passProbation(agent, now, decisions);
  }

  private passProbation(
    agent: AgentRecord,
    now: number,
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] | undefined {
    const ctx = { now, cleanVitals: agent.cleanVitals };
    if (!checkTransition(agent.lifecycle, 'probation_passed', ctx, this.config.lifecycle).ok)
      return decisions;
    const clean = agent.cleanVitals;
    decisions = this.move(agent, 'probation_passed', ctx, decisions) ?? [];
    decisions.push(this.probationOutcome(agent, true, clean, []));
    this.clearEpisode(agent);
    return decisions;
  }

  private probationOutcome(
    agent: AgentRecord,
    passed: boolean,
    clean: number,
    anomalies: readonly Anomaly[],
  ): TriageDecision {
    return {
      kind: 'probation',
      agent_id: agent.lifecycle.agent_id,
      passed,
      ...(agent.infectionId === undefined ? {} : { infection_id: agent.infectionId }),
      ...(agent.action === undefined ? {} : { action: agent.action }),
      clean_vitals: clean,
      anomalies: [...anomalies],
    };
  }

  /** A deadline came: whatever the agent's state allows now. */
  private timed(agent: AgentRecord, now: number, out: TriageDecision[]): void {
    let decisions: TriageDecision[] | undefined;
    switch (agent.lifecycle.state) {
      case 'SUSPECTED':
        decisions = this.decideSuspicion(agent, now, undefined, true);
        break;
      case 'DRAINING': {
        // The gateway refuses new requests from DRAINING on; in-flight ones have had drainTimeoutMs.
        const ctx = { now, inFlight: 0 };
        if (now - agent.lifecycle.entered_at < this.config.lifecycle.drainTimeoutMs) break;
        const evidence = agent.evidence;
        if (evidence.length > 0 && evidence.every((e) => this.explained(agent, e.anomaly.type, now))) {
          // Everything that got it drained has since shown up across the fleet: a shared cause, not this
          // agent. Let it back in rather than quarantine it.
          const types = evidence.map((e) => e.anomaly.type);
          for (const type of types)
            decisions = this.emitFleet(type, this.assessFleet(type, now), now, decisions);
          const reason = `external cause: fleet-wide ${types.join(', ')}`;
          decisions = this.move(agent, 'released', { now, reason }, decisions);
          decisions.push(this.release(agent, reason, now));
          this.clearEpisode(agent);
          for (const detector of agent.detectors) detector?.resetEvidence();
          break;
        }
        agent.infectionTypes = [...new Set(evidence.map((e) => e.anomaly.type))];
        agent.evidence = [];
        decisions = this.move(agent, 'drained', ctx, undefined) ?? [];
        decisions.push({
          kind: 'quarantine',
          order: this.order(agent, `drained after ${this.config.lifecycle.drainTimeoutMs} ms`, now),
        });
        break;
      }
      case 'PROBATION':
        decisions = this.passProbation(agent, now, undefined);
        break;
      default:
        break;
    }
    if (decisions !== undefined) for (const d of decisions) out.push(d);
  }

  private move(
    agent: AgentRecord,
    trigger: LifecycleTrigger,
    ctx: {
      now: number;
      reason?: string;
      anomaliesInWindow?: number;
      cleanVitals?: number;
      inFlight?: number;
    },
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] {
    const moved = transition(agent.lifecycle, trigger, ctx, this.config.lifecycle);
    agent.lifecycle = moved.agent;
    const out = decisions ?? [];
    out.push({ kind: 'transition', transition: moved.event });
    this.arm(agent);
    if (agent.softContained && moved.agent.state !== 'SUSPECTED') {
      // Out of SUSPECTED the soft entry is over: a blocked state's quarantine order replaces it right after
      // this transition; back to HEALTHY, it is removed.
      this.unsoften(agent);
      if (moved.agent.state === 'HEALTHY') out.push(this.softRelease(agent, moved.event.reason, ctx.now));
    }
    return out;
  }

  /** The soft containment order for `agent`, now SUSPECTED of `anomalies`, and the record of it. */
  private soften(agent: AgentRecord, anomalies: readonly Anomaly[], now: number): QuarantineOrder {
    const llm = agent.detectors[KIND_INDEX.llm];
    const callTimes: number[] = [];
    for (const vital of agent.recent.toArray()) if (vital.kind === 'llm') callTimes.push(vital.ts);
    agent.softContained = true;
    this.softContained.add(agent.lifecycle.agent_id);
    return softContainment(
      {
        agentId: agent.lifecycle.agent_id,
        reason: describe(anomalies),
        now,
        outputTokens: llm?.warm ? llm.baseline('output_tokens') : undefined,
        callTimes,
      },
      this.config.containment,
    );
  }

  private unsoften(agent: AgentRecord): void {
    agent.softContained = false;
    this.softContained.delete(agent.lifecycle.agent_id);
  }

  private softRelease(agent: AgentRecord, reason: string | undefined, now: number): TriageDecision {
    return {
      kind: 'release',
      agent_id: agent.lifecycle.agent_id,
      reason: `soft containment lifted: ${reason ?? 'suspicion cleared'}`,
      ts: now,
    };
  }

  /**
   * Releases the soft containment of every SUSPECTED agent whose evidence is all explained by the fleet now
   * (run when one of `anomalies`' types is fleet-wide). The agents stay SUSPECTED: the hold still clears them.
   */
  private releaseExplained(
    anomalies: readonly Anomaly[],
    now: number,
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] | undefined {
    if (!anomalies.some((anomaly) => this.assessFleet(anomaly.type, now).correlated)) return decisions;
    for (const id of [...this.softContained]) {
      const agent = this.agents.get(id);
      if (agent === undefined || agent.lifecycle.state !== 'SUSPECTED') {
        this.softContained.delete(id);
        continue;
      }
      const evidence = agent.evidence;
      if (evidence.length === 0 || !evidence.every((e) => this.explained(agent, e.anomaly.type, now)))
        continue;
      this.unsoften(agent);
      this.touch(agent);
      const reason = `external cause: fleet-wide ${[...new Set(evidence.map((e) => e.anomaly.type))].join(', ')}`;
      decisions ??= [];
      decisions.push(this.softRelease(agent, reason, now));
    }
    return decisions;
  }

  private order(agent: AgentRecord, reason: string, now: number): QuarantineOrder {
    return {
      agent_id: agent.lifecycle.agent_id,
      state: agent.lifecycle.state,
      reason,
      since: now,
      ...(agent.infectionId === undefined ? {} : { infection_id: agent.infectionId }),
    };
  }

  private release(agent: AgentRecord, reason: string, now: number): TriageDecision {
    return {
      kind: 'release',
      agent_id: agent.lifecycle.agent_id,
      reason,
      ts: now,
      ...(agent.infectionId === undefined ? {} : { infection_id: agent.infectionId }),
    };
  }

  private clearEpisode(agent: AgentRecord): void {
    agent.evidence = [];
    agent.cleanVitals = 0;
  }

  private emitFleet(
    type: AnomalyType,
    fleet: { affected: number; fleetSize: number; fraction: number },
    now: number,
    decisions: TriageDecision[] | undefined,
  ): TriageDecision[] | undefined {
    const windowMs = this.config.correlator.windowMs;
    const last = this.lastFleetEmit.get(type);
    // Once per window per type: an outage is one fact, not one event per affected agent.
    if (last !== undefined && now - last < windowMs && now >= last) return decisions;
    this.lastFleetEmit.set(type, now);
    const out = decisions ?? [];
    out.push({
      kind: 'fleet',
      correlation: {
        anomaly_type: type,
        agents: this.correlator.agentsWith(type),
        fraction: fleet.fraction,
        fleet_size: fleet.fleetSize,
        affected: fleet.affected,
        window_ms: windowMs,
        ts: now,
      },
    });
    return out;
  }

  /** Arms the agent's next deadline in the heap (lazily: stale heap entries are skipped when popped). */
  private arm(agent: AgentRecord): void {
    const at = this.deadlineOf(agent);
    if (at === undefined) {
      agent.armed = Number.NaN;
      return;
    }
    if (agent.armed === at) return;
    agent.armed = at;
    this.heap.push(at, agent.lifecycle.agent_id);
  }

  private deadlineOf(agent: AgentRecord): number | undefined {
    const lifecycle = agent.lifecycle;
    const config = this.config;
    switch (lifecycle.state) {
      case 'SUSPECTED': {
        const hold = lifecycle.entered_at + config.fleetHoldMs;
        const end = lifecycle.entered_at + config.lifecycle.suspectWindowMs;
        return agent.clock < hold && hold < end ? hold : end;
      }
      case 'DRAINING':
        return lifecycle.entered_at + config.lifecycle.drainTimeoutMs;
      case 'PROBATION': {
        const end = lifecycle.entered_at + config.lifecycle.probationMs;
        return agent.clock < end ? end : undefined;
      }
      default:
        return undefined;
    }
  }
}

const TYPE_BIT = Object.fromEntries(ANOMALY_TYPES.map((type, i) => [type, i])) as Record<AnomalyType, number>;

function addEvidence(evidence: EvidenceEntry[], anomaly: Anomaly, corroborated: boolean): void {
  for (const entry of evidence) {
    if (entry.anomaly.type !== anomaly.type) continue;
    entry.count++;
    if (corroborated) entry.corroborated = true;
    // The strongest corroborated σ is what a severe escalation is judged on.
    if (anomaly.sigma > entry.anomaly.sigma) entry.anomaly = anomaly;
    return;
  }
  evidence.push({ anomaly, count: 1, corroborated });
}

function mergeAnomaly(anomalies: readonly Anomaly[], extra: Anomaly): readonly Anomaly[] {
  const same = anomalies.findIndex((a) => a.type === extra.type);
  if (same === -1) return [...anomalies, extra];
  if (anomalies[same]!.sigma >= extra.sigma) return anomalies;
  const merged = [...anomalies];
  merged[same] = extra;
  return merged;
}

function describe(anomalies: readonly Anomaly[]): string {
  return anomalies.map((a) => `${a.type} ${a.sigma.toFixed(1)}σ`).join(', ');
}
