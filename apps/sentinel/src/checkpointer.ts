import type { AgentTriage } from '@immune/core';
import type { SentinelCheckpoint } from '@immune/store';

interface Gate {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Work between two yields to the event loop while snapshotting. Measured in time, not agents: a snapshot's
 * cost follows the detector's state (it went from ~10 to ~45 µs per agent when the detector grew) and the
 * machine's load, and a slice of a fixed 200 agents then held vitals and quarantines up for 10–20 ms.
 */
const SLICE_MS = 4;

/** Says when `SLICE_MS` of work ran since the event loop last had its turn, and gives it one. */
class Slicer {
  private since: number;

  constructor(private readonly clock: () => number) {
    this.since = clock();
  }

  /** Synchronous, so the agents in between cost no promise each. */
  due(): boolean {
    return this.clock() - this.since >= SLICE_MS;
  }

  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.since = this.clock();
  }
}

function gate(): Gate {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A checkpoint that no vital waited for may fail without anyone listening; that is not a crash.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export interface CheckpointerDeps {
  triage: AgentTriage;
  save(checkpoints: readonly SentinelCheckpoint[]): Promise<void>;
  /** Writes the baselines read model (`baselines` table), which `refreshBaselines` keeps up to date. */
  saveBaselines(checkpoints: readonly SentinelCheckpoint[]): Promise<void>;
  partitionOf(agentId: string): number;
  /** Effects still running for an agent: its state may not be written before they are done. */
  pendingEffects(agentId: string): Promise<void> | undefined;
  /** Agents whose effects were abandoned (shutdown): never written, so their vitals are redelivered. */
  abandoned: ReadonlySet<string>;
  now(): number;
  /** Times the work between yields (default `performance.now`; tests drive it). */
  workClock?: () => number;
}

/**
 * Group commit of the triage state. A vital handler takes `nextCommit()` as its ack gate: the promise resolves
 * once a checkpoint that started after the vital changed the state is in PostgreSQL. So an acked vital is always
 * in the stored state, and a vital that is in the stored state but not acked (crash in between) is redelivered
 * and recognised by the agent's dedupe ring.
 */
export class Checkpointer {
  private current = gate();
  private running: Promise<void> | undefined;
  /** Agents checkpointed since the baselines read model was last refreshed. */
  private readonly baselinesDue = new Set<string>();
  lastDurationMs = 0;
  lastRows = 0;

  constructor(private readonly deps: CheckpointerDeps) {}

  nextCommit(): Promise<void> {
    return this.current.promise;
  }

  /** Writes every changed agent. Concurrent calls run one after the other. */
  async run(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.write();
    this.running = run;
    try {
      await run;
    } finally {
      if (this.running === run) this.running = undefined;
    }
  }

  private async write(): Promise<void> {
    const { triage } = this.deps;
    const started = this.deps.now();
    const done = this.current;
    this.current = gate();
    const ids = triage.takeDirty();
    const rows: SentinelCheckpoint[] = [];
    const waiting: Array<{ id: string; pending: Promise<void> }> = [];
    const slicer = this.slicer();
    for (const id of ids) {
      // Snapshotting costs tens of µs per agent: give the event loop back between slices, so a checkpoint
      // of thousands of agents does not hold up the vitals (and quarantines) arriving meanwhile. A vital
      // handled in between waits for the next checkpoint's gate, so it is never acked on this one.
      if (slicer.due()) await slicer.yield();
      if (this.deps.abandoned.has(id)) continue;
      const pending = this.deps.pendingEffects(id);
      if (pending === undefined) this.push(rows, id, started);
      else waiting.push({ id, pending });
    }
    // The decision is already in memory; its state is written only after its effects, so a crash between
    // the two replays the vital and redoes the (idempotent) effects instead of losing them.
    if (waiting.length > 0) {
      await Promise.allSettled(waiting.map((w) => w.pending));
      for (const { id } of waiting) if (!this.deps.abandoned.has(id)) this.push(rows, id, started);
    }
    try {
      await this.deps.save(rows);
      for (const row of rows) this.baselinesDue.add(row.snapshot.agent_id);
      this.lastRows = rows.length;
      this.lastDurationMs = this.deps.now() - started;
      done.resolve();
    } catch (error) {
      triage.markDirty(ids);
      done.reject(error);
      throw error;
    }
  }

  /**
   * Copies the baselines of the agents checkpointed since the last refresh into the `baselines` table. Only
   * dashboards read it (restores use the checkpoints), so it runs seconds apart, not on every checkpoint.
   */
  async refreshBaselines(): Promise<void> {
    const ids = [...this.baselinesDue];
    this.baselinesDue.clear();
    const at = this.deps.now();
    const rows: SentinelCheckpoint[] = [];
    const slicer = this.slicer();
    for (const id of ids) {
      if (slicer.due()) await slicer.yield();
      this.push(rows, id, at);
    }
    try {
      await this.deps.saveBaselines(rows);
    } catch (error) {
      for (const id of ids) this.baselinesDue.add(id);
      throw error;
    }
  }

  private slicer(): Slicer {
    return new Slicer(this.deps.workClock ?? (() => performance.now()));
  }

  private push(rows: SentinelCheckpoint[], agentId: string, at: number): void {
    const snapshot = this.deps.triage.snapshot(agentId);
    if (snapshot === undefined) return;
    rows.push({ partition: this.deps.partitionOf(agentId), snapshot, updated_at: at });
  }
}
