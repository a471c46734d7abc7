import Type, { type Static } from 'typebox';
import {
  ANOMALY_TYPES,
  Anomaly,
  AnomalyType,
  buildInfectionReport,
  DEFAULT_SEVERITY_THRESHOLDS,
  type InfectionReport,
  type SeverityThresholds,
} from './anomaly.js';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { type ContainmentConfig, DEFAULT_CONTAINMENT_CONFIG, softContainment } from './containment.js';
import {
  type CorrelatorConfig,
  DEFAULT_CORRELATOR_CONFIG,
  FleetCorrelator,
  UPSTREAM_SYMPTOMS,
} from './correlator.js';
import {
  AgentDetector,
  DEFAULT_DETECTOR_CONFIG,
  type DetectorConfig,
  DetectorSnapshot,
  detectorConfig,
  type MetricBand,
} from './detector.js';
import type { FleetTally } from './fleet-tally.js';
import { djb2, fnv1a } from './hash.js';
import {
  type AgentLifecycle,
  checkTransition,
  DEFAULT_LIFECYCLE_CONFIG,
  IllegalTransitionError,
  isBlocked,
  type LifecycleConfig,
  LifecycleState,
  type LifecycleTransition,
  type LifecycleTrigger,
  type TransitionGuardError,
  transition,
} from './lifecycle.js';
import type { QuarantineOrder } from './quarantine-order.js';
import { RecentVitals } from './recent-vitals.js';
import { DEFAULT_REPETITION_CONFIG, type RepetitionConfig, RepetitionTracker } from './repetition.js';
import { BASELINE_METRICS, type BaselineMetric, type Vital, type VitalKind } from './vital.js';

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

export interface TriageConfig {
  detector: DetectorConfig;
  lifecycle: LifecycleConfig;
  correlator: CorrelatorConfig;
  repetition: RepetitionConfig;
  severity: SeverityThresholds;
  /**
   * σ at or above which a corroborated anomaly is enough to quarantine, without waiting for
   * `confirmAnomalies`. For the per-vital metrics, corroborated means the detector's sustained evidence is
   * over its alarm level (never one vital alone); windowed rates, prompt changes and repetition loops are
   * built from several vitals already.
   */
  severeSigma: number;
  /**
   * How long an agent stays SUSPECTED before any escalation, ms, so the fleet picture (other agents, other
   * sentinel instances) can form first. It must cover the time the agents hit by a shared cause take to report
   * it: with calls every few seconds and tallies exchanged every ~0.5 s, 10 s. 0 escalates at once.
   */
  fleetHoldMs: number;
  /** Vitals kept per agent for the infection report (in memory only; not checkpointed). */
  recentVitals: number;
  /** Vital ids remembered per agent so a redelivered vital is not counted twice (at most 255). */
  dedupeWindow: number;
  /**
   * An agent counts in the active fleet while its last vital is at most this old, ms. It matches the
   * correlator's window by default: an agent idle for the whole window could not have shown the anomaly, so
   * counting it would only dilute the fraction.
   */
  activeWindowMs: number;
  /** A peer's fleet tally older than this (relative to `now`) is ignored, ms. */
  peerStaleMs: number;
  /** Soft containment of a SUSPECTED agent at its first severe, corroborated vital (see containment.ts). */
  containment: ContainmentConfig;
}

export const DEFAULT_TRIAGE_CONFIG: TriageConfig = {
  detector: DEFAULT_DETECTOR_CONFIG,
  lifecycle: DEFAULT_LIFECYCLE_CONFIG,
  correlator: DEFAULT_CORRELATOR_CONFIG,
  repetition: DEFAULT_REPETITION_CONFIG,
  severity: DEFAULT_SEVERITY_THRESHOLDS,
  severeSigma: 5,
  fleetHoldMs: 10_000,
  recentVitals: 5,
  dedupeWindow: 16,
  activeWindowMs: 60_000,
  peerStaleMs: 15_000,
  containment: DEFAULT_CONTAINMENT_CONFIG,
};

export interface TriageOverrides {
  detector?: Partial<DetectorConfig>;
  lifecycle?: Partial<LifecycleConfig>;
  correlator?: Partial<CorrelatorConfig>;
  repetition?: Partial<RepetitionConfig>;
  severity?: Partial<SeverityThresholds>;
  severeSigma?: number;
  fleetHoldMs?: number;
  recentVitals?: number;
  dedupeWindow?: number;
  activeWindowMs?: number;
  peerStaleMs?: number;
  containment?: Partial<ContainmentConfig>;
}

/** Merges overrides (from env, a file or CLI flags) over the defaults and validates them. */
export function triageConfig(overrides: TriageOverrides = {}): TriageConfig {
  const { detector, lifecycle, correlator, repetition, severity, containment, ...rest } = overrides;
  const config: TriageConfig = {
    ...DEFAULT_TRIAGE_CONFIG,
    ...stripUndefined(rest),
    detector: detectorConfig(detector),
    lifecycle: { ...DEFAULT_LIFECYCLE_CONFIG, ...stripUndefined(lifecycle ?? {}) },
    correlator: { ...DEFAULT_CORRELATOR_CONFIG, ...stripUndefined(correlator ?? {}) },
    repetition: { ...DEFAULT_REPETITION_CONFIG, ...stripUndefined(repetition ?? {}) },
    severity: { ...DEFAULT_SEVERITY_THRESHOLDS, ...stripUndefined(severity ?? {}) },
    containment: { ...DEFAULT_CONTAINMENT_CONFIG, ...stripUndefined(containment ?? {}) },
  };
  if (!(Number.isInteger(config.dedupeWindow) && config.dedupeWindow >= 1 && config.dedupeWindow <= 255)) {
    throw new RangeError('triage: dedupeWindow must be an integer in 1..255');
  }
  if (!(config.fleetHoldMs >= 0 && config.recentVitals >= 0 && config.severeSigma > 0)) {
    throw new RangeError('triage: fleetHoldMs and recentVitals must be >= 0, severeSigma > 0');
  }
  if (
    !(config.repetition.window >= 1 && config.repetition.window <= 255 && config.repetition.minRepeats >= 2)
  ) {
    throw new RangeError('triage: repetition.window must be in 1..255 and minRepeats at least 2');
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

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

const EvidenceEntry = Type.Object(
  {
    anomaly: Anomaly,
    count: Type.Integer({ minimum: 1 }),
    /** The anomaly was corroborated at least once (see `severeSigma`); absent in older checkpoints. */
    corroborated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
type EvidenceEntry = Static<typeof EvidenceEntry>;

/**
 * One agent's whole triage state, as checkpointed. Detector baselines are plain `DetectorSnapshot`s (one per
 * vital kind the agent used, so they can go to the `baselines` table); the rest is small fields plus `packed`,
 * base64 of the counters, the dedupe ring and the repetition ring. Recent vitals are not kept: after a
 * restart an infection report lists only vitals seen since.
 */
export const AgentTriageSnapshot = Type.Object(
  {
    v: Type.Literal(1),
    agent_id: Type.String({ minLength: 1 }),
    state: LifecycleState,
    entered_at: Type.Integer({ minimum: 0 }),
    seq: Type.Integer({ minimum: 0 }),
    /**
     * The highest stream sequence among the vitals this state has applied (0: none came with one). A
     * redelivery at or below it was counted already, however long ago (see `AgentTriage.observe`).
     */
    stream_seq: Type.Integer({ minimum: 0 }),
    detectors: Type.Object(
      {
        llm: Type.Optional(DetectorSnapshot),
        tool: Type.Optional(DetectorSnapshot),
        task: Type.Optional(DetectorSnapshot),
      },
      { additionalProperties: false },
    ),
    packed: Type.String(),
    evidence: Type.Optional(Type.Array(EvidenceEntry)),
    infection_id: Type.Optional(Type.String()),
    action: Type.Optional(Type.String()),
    /** What the agent was quarantined for: on probation, one vital of these types is a relapse. */
    infection_types: Type.Optional(Type.Array(AnomalyType)),
    /** The agent's entry in the quarantine bucket is a soft containment this triage must release. */
    soft_contained: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type AgentTriageSnapshot = Static<typeof AgentTriageSnapshot>;

const KINDS: readonly VitalKind[] = ['llm', 'tool', 'task'];
const KIND_INDEX: Record<VitalKind, number> = { llm: 0, tool: 1, task: 2 };
const NOTHING: readonly TriageDecision[] = Object.freeze([]);
const DUPLICATE: readonly TriageDecision[] = Object.freeze([Object.freeze({ kind: 'duplicate' as const })]);
const PACK_VERSION = 2;

class AgentRecord {
  lifecycle: AgentLifecycle;
  readonly detectors: Array<AgentDetector | undefined> = [undefined, undefined, undefined];
  repetition: RepetitionTracker | undefined;
  /** Two independent 32-bit hashes per remembered id: a false "duplicate" needs both to collide. */
  readonly ids: Uint32Array;
  idNext = 0;
  idFill = 0;
  /** Highest stream sequence applied: the redelivery watermark. */
  streamSeq = 0;
  readonly recent: RecentVitals;
  /** The agent's event-time clock: the newest vital timestamp (or applied `now`) seen. */
  clock = 0;
  lastSeen = 0;
  evidence: EvidenceEntry[] = [];
  infectionId: string | undefined;
  action: string | undefined;
  /** The anomaly types of the evidence the agent was quarantined for (probation judges them strictly). */
  infectionTypes: AnomalyType[] = [];
  cleanVitals = 0;
  /**
   * Until when (event time) this agent counts as hit by a fleet-wide upstream failure: it showed one of
   * `UPSTREAM_SYMPTOMS` while that symptom was fleet-wide, so its other upstream symptoms are the same cause.
   */
  externalUntil = 0;
  /** A soft containment entry is written for this SUSPECTED agent (released when it leaves SUSPECTED). */
  softContained = false;
  /** Deadline currently armed in the heap, NaN when none. */
  armed = Number.NaN;
  /** On the triage's dirty list (changed since the last checkpoint took it). */
  dirty = false;

  constructor(agentId: string, now: number, dedupeWindow: number, recentVitals: number) {
    this.lifecycle = { agent_id: agentId, state: 'INITIALIZING', entered_at: now, seq: 0 };
    this.ids = new Uint32Array(dedupeWindow * 2);
    this.recent = new RecentVitals(recentVitals, agentId);
    this.clock = now;
    this.lastSeen = now;
  }
}

interface HeapEntry {
  at: number;
  agentId: string;
}

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
  private readonly agents = new Map<string, AgentRecord>();
  private readonly correlator: FleetCorrelator;
  private readonly peers = new Map<string, FleetTally>();
  private readonly heap: HeapEntry[] = [];
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
    } else if ((streamSeq !== undefined && streamSeq <= agent.streamSeq) || seenId(agent, idA, idB)) {
      return DUPLICATE;
    }
    if (streamSeq !== undefined) agent.streamSeq = streamSeq;
    rememberId(agent, idA, idB);
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
            if (type === loop?.type || !METRIC_TYPES.has(type) || detector.sustained(type)) {
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
            !METRIC_TYPES.has(anomaly.type) ||
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
    while (heap.length > 0 && heap[0]!.at <= now) {
      const entry = heapPop(heap);
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
    return this.heap.length > 0 ? this.heap[0]!.at : undefined;
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
    if (agent === undefined) return undefined;
    const detectors: AgentTriageSnapshot['detectors'] = {};
    for (let i = 0; i < KINDS.length; i++) {
      const detector = agent.detectors[i];
      if (detector !== undefined) detectors[KINDS[i]!] = detector.snapshot();
    }
    const snapshot: AgentTriageSnapshot = {
      v: 1,
      agent_id: agentId,
      state: agent.lifecycle.state,
      entered_at: agent.lifecycle.entered_at,
      seq: agent.lifecycle.seq,
      stream_seq: agent.streamSeq,
      detectors,
      packed: this.pack(agent),
    };
    if (agent.evidence.length > 0) snapshot.evidence = agent.evidence.map((e) => ({ ...e }));
    if (agent.infectionId !== undefined) snapshot.infection_id = agent.infectionId;
    if (agent.action !== undefined) snapshot.action = agent.action;
    if (agent.infectionTypes.length > 0) snapshot.infection_types = [...agent.infectionTypes];
    if (agent.softContained) snapshot.soft_contained = true;
    return snapshot;
  }

  /** Loads an agent from a checkpoint, replacing what was held for it. */
  restore(snapshot: AgentTriageSnapshot): void {
    const config = this.config;
    const agent = new AgentRecord(
      snapshot.agent_id,
      snapshot.entered_at,
      config.dedupeWindow,
      config.recentVitals,
    );
    agent.lifecycle = {
      agent_id: snapshot.agent_id,
      state: snapshot.state,
      entered_at: snapshot.entered_at,
      seq: snapshot.seq,
    };
    agent.streamSeq = snapshot.stream_seq;
    for (let i = 0; i < KINDS.length; i++) {
      const detector = snapshot.detectors[KINDS[i]!];
      if (detector !== undefined) agent.detectors[i] = AgentDetector.restore(detector, config.detector);
    }
    agent.evidence = (snapshot.evidence ?? []).map((e) => ({ ...e }));
    agent.infectionId = snapshot.infection_id;
    agent.action = snapshot.action;
    agent.infectionTypes = [...(snapshot.infection_types ?? [])];
    agent.softContained = snapshot.soft_contained === true;
    if (agent.softContained) this.softContained.add(snapshot.agent_id);
    else this.softContained.delete(snapshot.agent_id);
    this.unpack(agent, snapshot.packed);
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

  private pack(agent: AgentRecord): string {
    const view = PACK_VIEW;
    let at = 0;
    view.setUint8(at, PACK_VERSION);
    at += 1;
    view.setFloat64(at, agent.clock);
    at += 8;
    view.setFloat64(at, agent.lastSeen);
    at += 8;
    view.setUint32(at, Math.min(agent.cleanVitals, 0xffffffff));
    at += 4;
    const ids = agent.idFill;
    view.setUint8(at++, ids);
    // Oldest first, so restoring in order rebuilds the same ring.
    const size = agent.ids.length / 2;
    const start = agent.idFill < size ? 0 : agent.idNext;
    for (let k = 0; k < ids; k++) {
      const i = (start + k) % size;
      view.setUint32(at, agent.ids[i * 2]!);
      view.setUint32(at + 4, agent.ids[i * 2 + 1]!);
      at += 8;
    }
    const countAt = at++;
    const reps = agent.repetition?.writeLive(agent.clock, view, at) ?? 0;
    view.setUint8(countAt, reps);
    at += reps * 8;
    view.setFloat64(at, agent.externalUntil);
    at += 8;
    return bytesToBase64(PACK_SCRATCH, at);
  }

  private unpack(agent: AgentRecord, packed: string): void {
    const bytes = base64ToBytes(packed, 'triage: packed state');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    // Version 1 is version 2 without the trailing `externalUntil`.
    const version = view.getUint8(at);
    if (version !== 1 && version !== PACK_VERSION) {
      throw new RangeError('triage: unknown packed state version');
    }
    at += 1;
    agent.clock = view.getFloat64(at);
    at += 8;
    agent.lastSeen = view.getFloat64(at);
    at += 8;
    agent.cleanVitals = view.getUint32(at);
    at += 4;
    const ids = view.getUint8(at++);
    const size = agent.ids.length / 2;
    const keep = Math.min(ids, size);
    at += (ids - keep) * 8;
    for (let k = 0; k < keep; k++) {
      agent.ids[k * 2] = view.getUint32(at);
      agent.ids[k * 2 + 1] = view.getUint32(at + 4);
      at += 8;
    }
    agent.idFill = keep;
    agent.idNext = keep % size;
    const reps = view.getUint8(at++);
    if (reps > 0) {
      const hashes: number[] = [];
      const times: number[] = [];
      for (let k = 0; k < reps; k++) {
        hashes.push(view.getUint32(at));
        times.push(agent.clock - view.getUint32(at + 4));
        at += 8;
      }
      agent.repetition = RepetitionTracker.restore({ hashes, times }, this.config.repetition);
    }
    agent.externalUntil = version >= 2 ? view.getFloat64(at) : 0;
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
      if (!(entry.corroborated ?? !METRIC_TYPES.has(entry.anomaly.type))) continue;
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
    heapPush(this.heap, { at, agentId: agent.lifecycle.agent_id });
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

/** Anomaly types measured per vital against a metric baseline, as opposed to windows, prompts and loops. */
const METRIC_TYPES: ReadonlySet<AnomalyType> = new Set([
  'token_spike',
  'input_token_spike',
  'output_token_spike',
  'latency_spike',
  'tool_explosion',
  'cost_spike',
]);

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

/** Whether the agent's dedupe ring holds the id whose two hashes are `a` and `b`. */
function seenId(agent: AgentRecord, a: number, b: number): boolean {
  const ids = agent.ids;
  for (let i = 0; i < agent.idFill; i++) if (ids[i * 2] === a && ids[i * 2 + 1] === b) return true;
  return false;
}

function rememberId(agent: AgentRecord, a: number, b: number): void {
  const size = agent.ids.length / 2;
  agent.ids[agent.idNext * 2] = a;
  agent.ids[agent.idNext * 2 + 1] = b;
  agent.idNext = (agent.idNext + 1) % size;
  if (agent.idFill < size) agent.idFill++;
}

/** Where an agent on probation stands: what `probation_passed` waits for (see the lifecycle's guard). */
export interface ProbationProgress {
  clean_vitals: number;
  min_vitals: number;
  /** Event time at which the probation length is served. */
  ends_at: number;
}

/** What a dashboard shows of one agent's triage state, read from its checkpoint (see `triageView`). */
export interface TriageView {
  /** Present while the agent is on probation. */
  probation?: ProbationProgress;
  /** The learned baselines of the agent's busiest vital kind (most samples), absent before its first vital. */
  baselines?: { kind: VitalKind; metrics: Record<BaselineMetric, MetricBand> };
}

/**
 * The read model of a checkpointed triage state under `config` (the sentinel's): probation progress and the
 * learned baselines in the metrics' own units. Derived, never stored, so it cannot disagree with the state.
 */
export function triageView(snapshot: AgentTriageSnapshot, config: TriageConfig): TriageView {
  const view: TriageView = {};
  if (snapshot.state === 'PROBATION') {
    view.probation = {
      clean_vitals: packedCleanVitals(snapshot.packed),
      min_vitals: config.lifecycle.probationMinVitals,
      ends_at: snapshot.entered_at + config.lifecycle.probationMs,
    };
  }
  let busiest: { kind: VitalKind; snapshot: DetectorSnapshot } | undefined;
  for (const kind of KINDS) {
    const detector = snapshot.detectors[kind];
    if (detector !== undefined && (busiest === undefined || detector.samples > busiest.snapshot.samples))
      busiest = { kind, snapshot: detector };
  }
  if (busiest !== undefined) {
    const detector = AgentDetector.restore(busiest.snapshot, config.detector);
    const metrics = Object.fromEntries(BASELINE_METRICS.map((metric) => [metric, detector.band(metric)]));
    view.baselines = { kind: busiest.kind, metrics: metrics as Record<BaselineMetric, MetricBand> };
  }
  return view;
}

/** The clean-vital counter of a packed state (both versions write it after the version byte and two clocks). */
function packedCleanVitals(packed: string): number {
  const bytes = base64ToBytes(packed, 'triage: packed state');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== 1 && version !== PACK_VERSION) throw new RangeError('triage: unknown packed state version');
  return view.getUint32(1 + 8 + 8);
}

/**
 * Where `pack` writes: the largest packed state (255 remembered ids, 255 repetition entries) fits. One buffer
 * for the process, so a checkpoint of thousands of agents allocates no byte arrays (each one an external
 * backing store the garbage collector has to account for).
 */
const PACK_SCRATCH = new Uint8Array(1 + 8 + 8 + 4 + 1 + 255 * 8 + 1 + 255 * 8 + 8);
const PACK_VIEW = new DataView(PACK_SCRATCH.buffer);

function heapPush(heap: HeapEntry[], entry: HeapEntry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= entry.at) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = entry;
}

function heapPop(heap: HeapEntry[]): HeapEntry {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = i * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
  return top;
}
