import Type, { type Static } from 'typebox';
import { Anomaly, AnomalyType } from './anomaly.js';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { AgentDetector, DetectorSnapshot } from './detector.js';
import { LifecycleState } from './lifecycle.js';
import { RepetitionTracker } from './repetition.js';
import { AgentRecord, KINDS } from './triage-agent.js';
import type { TriageConfig } from './triage-config.js';

export const EvidenceEntry = Type.Object(
  {
    anomaly: Anomaly,
    count: Type.Integer({ minimum: 1 }),
    /** The anomaly was corroborated at least once (see `severeSigma`); absent in older checkpoints. */
    corroborated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type EvidenceEntry = Static<typeof EvidenceEntry>;

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

const PACK_VERSION = 2;

/** The checkpoint of one agent's state. */
export function snapshotAgent(agent: AgentRecord): AgentTriageSnapshot {
  const detectors: AgentTriageSnapshot['detectors'] = {};
  for (let i = 0; i < KINDS.length; i++) {
    const detector = agent.detectors[i];
    if (detector !== undefined) detectors[KINDS[i]!] = detector.snapshot();
  }
  const snapshot: AgentTriageSnapshot = {
    v: 1,
    agent_id: agent.lifecycle.agent_id,
    state: agent.lifecycle.state,
    entered_at: agent.lifecycle.entered_at,
    seq: agent.lifecycle.seq,
    stream_seq: agent.streamSeq,
    detectors,
    packed: pack(agent),
  };
  if (agent.evidence.length > 0) snapshot.evidence = agent.evidence.map((e) => ({ ...e }));
  if (agent.infectionId !== undefined) snapshot.infection_id = agent.infectionId;
  if (agent.action !== undefined) snapshot.action = agent.action;
  if (agent.infectionTypes.length > 0) snapshot.infection_types = [...agent.infectionTypes];
  if (agent.softContained) snapshot.soft_contained = true;
  return snapshot;
}

/** An agent's state rebuilt from its checkpoint under `config`. */
export function restoreAgent(snapshot: AgentTriageSnapshot, config: TriageConfig): AgentRecord {
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
  unpack(agent, snapshot.packed, config);
  return agent;
}

function pack(agent: AgentRecord): string {
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

function unpack(agent: AgentRecord, packed: string, config: TriageConfig): void {
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
    agent.repetition = RepetitionTracker.restore({ hashes, times }, config.repetition);
  }
  agent.externalUntil = version >= 2 ? view.getFloat64(at) : 0;
}

/** The clean-vital counter of a packed state (both versions write it after the version byte and two clocks). */
export function packedCleanVitals(packed: string): number {
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
