import Type, { type Static } from 'typebox';
import { Anomaly, AnomalyType } from './anomaly.js';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { AgentDetector, DetectorSnapshot } from './detector.js';
import { fnv1a } from './hash.js';
import { LifecycleState } from './lifecycle.js';
import { RepetitionTracker } from './repetition.js';
import { compileChecker } from './schema.js';
import { AgentRecord, KINDS } from './triage-agent.js';
import type { TriageConfig } from './triage-config.js';

export const EvidenceEntry = Type.Object(
  {
    anomaly: Anomaly,
    count: Type.Integer({ minimum: 1 }),
    /** The anomaly was corroborated at least once (see `severeSigma`). */
    corroborated: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type EvidenceEntry = Static<typeof EvidenceEntry>;

/**
 * One agent's whole triage state, as checkpointed. Detector baselines are plain `DetectorSnapshot`s (one per
 * vital kind the agent used, so they can go to the `baselines` table); the rest is small fields plus `packed`,
 * base64 of the counters, the dedupe ring and the repetition ring. Recent vitals are not kept: after a
 * restart an infection report lists only vitals seen since.
 *
 * Every part says what layout wrote it: `v` the document's, the first four bytes of `packed` the hash of
 * `PACKED_LAYOUT`, each detector the hash of `DETECTOR_LAYOUT` (its metrics and fields in slot order). A
 * checkpoint any part of which another build wrote is refused whole (`CheckpointMismatchError`), never read
 * into shifted slots.
 */
export const AgentTriageSnapshot = Type.Object(
  {
    v: Type.Literal(2),
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

/**
 * What `packed` holds, in order; its hash opens every packed state. Edit it with the codec below: a build
 * whose packing differs then refuses the older states instead of misreading them.
 */
export const PACKED_LAYOUT = [
  'layout:u32',
  'clock:f64',
  'last_seen:f64',
  'clean_vitals:u32',
  'dedupe_ids:u8 count,(fnv1a:u32,djb2:u32)*',
  'repetition:u8 count,(hash:u32,age_ms:u32)*',
  'external_until:f64',
].join(',');
const PACKED_LAYOUT_HASH = fnv1a(PACKED_LAYOUT);
const CLEAN_VITALS_AT = 4 + 8 + 8;
const checkSnapshot = compileChecker(AgentTriageSnapshot);

/** A checkpoint written with another layout than this build's: refused, so the agent starts afresh. */
export class CheckpointMismatchError extends Error {
  override readonly name = 'CheckpointMismatchError';
  constructor(
    readonly agentId: string,
    detail: string,
  ) {
    super(`triage checkpoint of agent '${agentId}' does not match this build: ${detail}`);
  }
}

/** The checkpoint of one agent's state. */
export function snapshotAgent(agent: AgentRecord): AgentTriageSnapshot {
  const detectors: AgentTriageSnapshot['detectors'] = {};
  for (let i = 0; i < KINDS.length; i++) {
    const detector = agent.detectors[i];
    if (detector !== undefined) detectors[KINDS[i]!] = detector.snapshot();
  }
  const snapshot: AgentTriageSnapshot = {
    v: 2,
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

/**
 * An agent's state rebuilt from its checkpoint under `config`. Throws `CheckpointMismatchError` when any part
 * of it was written with another layout (or is not a checkpoint at all), before anything is read from it.
 */
export function restoreAgent(snapshot: AgentTriageSnapshot, config: TriageConfig): AgentRecord {
  const agentId = typeof snapshot.agent_id === 'string' ? snapshot.agent_id : '?';
  if (snapshot.v !== 2) throw new CheckpointMismatchError(agentId, `version ${String(snapshot.v)}, not 2`);
  const issues = checkSnapshot.issues(snapshot);
  if (issues.length > 0) {
    const detail = issues.map((issue) => `${issue.path || '/'}: ${issue.message}`).join('; ');
    throw new CheckpointMismatchError(agentId, detail);
  }
  const bytes = packedBytes(snapshot);
  const agent = new AgentRecord(agentId, snapshot.entered_at, config.dedupeWindow, config.recentVitals);
  agent.lifecycle = {
    agent_id: agentId,
    state: snapshot.state,
    entered_at: snapshot.entered_at,
    seq: snapshot.seq,
  };
  agent.streamSeq = snapshot.stream_seq;
  for (let i = 0; i < KINDS.length; i++) {
    const kind = KINDS[i]!;
    const detector = snapshot.detectors[kind];
    if (detector === undefined) continue;
    try {
      agent.detectors[i] = AgentDetector.restore(detector, config.detector);
    } catch (error) {
      throw new CheckpointMismatchError(agentId, `${kind} ${(error as Error).message}`);
    }
  }
  agent.evidence = (snapshot.evidence ?? []).map((e) => ({ ...e }));
  agent.infectionId = snapshot.infection_id;
  agent.action = snapshot.action;
  agent.infectionTypes = [...(snapshot.infection_types ?? [])];
  agent.softContained = snapshot.soft_contained === true;
  unpack(agent, bytes, config);
  return agent;
}

/** The clean-vital counter of a checkpoint's packed state (refused like `restoreAgent` on another layout). */
export function packedCleanVitals(snapshot: AgentTriageSnapshot): number {
  const bytes = packedBytes(snapshot);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(CLEAN_VITALS_AT);
}

/** The packed state's bytes, once its layout hash is this build's and its length what that layout reads. */
function packedBytes(snapshot: AgentTriageSnapshot): Uint8Array {
  const agentId = snapshot.agent_id;
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(snapshot.packed, 'packed state');
  } catch (error) {
    throw new CheckpointMismatchError(agentId, (error as Error).message);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layout = bytes.length >= 4 ? view.getUint32(0) : undefined;
  if (layout !== PACKED_LAYOUT_HASH) {
    throw new CheckpointMismatchError(
      agentId,
      `packed layout ${String(layout)} is not this build's (${PACKED_LAYOUT_HASH}: ${PACKED_LAYOUT})`,
    );
  }
  const expected = packedLength(view);
  if (bytes.length !== expected) {
    throw new CheckpointMismatchError(
      agentId,
      `packed state holds ${bytes.length} bytes, its layout ${expected}`,
    );
  }
  return bytes;
}

/** How many bytes `PACKED_LAYOUT` reads from `view`, from its two counts (Infinity when they lie outside). */
function packedLength(view: DataView): number {
  const idsAt = CLEAN_VITALS_AT + 4;
  if (view.byteLength <= idsAt) return Number.POSITIVE_INFINITY;
  const repsAt = idsAt + 1 + view.getUint8(idsAt) * 8;
  if (view.byteLength <= repsAt) return Number.POSITIVE_INFINITY;
  return repsAt + 1 + view.getUint8(repsAt) * 8 + 8;
}

function pack(agent: AgentRecord): string {
  const view = PACK_VIEW;
  let at = 0;
  view.setUint32(at, PACKED_LAYOUT_HASH);
  at += 4;
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

function unpack(agent: AgentRecord, bytes: Uint8Array, config: TriageConfig): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 4;
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
  agent.externalUntil = view.getFloat64(at);
}

/**
 * Where `pack` writes: the largest packed state (255 remembered ids, 255 repetition entries) fits. One buffer
 * for the process, so a checkpoint of thousands of agents allocates no byte arrays (each one an external
 * backing store the garbage collector has to account for).
 */
const PACK_SCRATCH = new Uint8Array(4 + 8 + 8 + 4 + 1 + 255 * 8 + 1 + 255 * 8 + 8);
const PACK_VIEW = new DataView(PACK_SCRATCH.buffer);
