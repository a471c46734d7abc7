import type { AnomalyType } from './anomaly.js';
import type { AgentDetector } from './detector.js';
import type { AgentLifecycle } from './lifecycle.js';
import { RecentVitals } from './recent-vitals.js';
import type { RepetitionTracker } from './repetition.js';
import type { EvidenceEntry } from './triage-checkpoint.js';
import type { VitalKind } from './vital.js';

/** The vital kinds an agent keeps a detector for, in the order of `AgentRecord.detectors`. */
export const KINDS: readonly VitalKind[] = ['llm', 'tool', 'task'];
export const KIND_INDEX: Record<VitalKind, number> = { llm: 0, tool: 1, task: 2 };

/** One agent's whole triage state in memory: what `AgentTriage` decides on and a checkpoint holds. */
export class AgentRecord {
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

  /** Whether the dedupe ring holds the id whose two hashes are `a` and `b`. */
  seenId(a: number, b: number): boolean {
    const ids = this.ids;
    for (let i = 0; i < this.idFill; i++) if (ids[i * 2] === a && ids[i * 2 + 1] === b) return true;
    return false;
  }

  rememberId(a: number, b: number): void {
    const size = this.ids.length / 2;
    this.ids[this.idNext * 2] = a;
    this.ids[this.idNext * 2 + 1] = b;
    this.idNext = (this.idNext + 1) % size;
    if (this.idFill < size) this.idFill++;
  }
}
