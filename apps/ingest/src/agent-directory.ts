import { AgentRepository, type Db } from '@immune/store';

/**
 * Which agents this process already knows are in the `agents` table, so that registering agents on first sight
 * costs one statement per new agent rather than one per vital. Bounded: when full it starts over, which only
 * costs a few idempotent upserts.
 */
export class AgentDirectory {
  readonly #repository: AgentRepository;
  readonly #known = new Set<string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  readonly #lastSeen = new Map<string, number>();
  readonly #capacity: number;

  constructor(db: Db, options: { capacity?: number } = {}) {
    this.#repository = new AgentRepository(db);
    this.#capacity = options.capacity ?? 100_000;
  }

  get repository(): AgentRepository {
    return this.#repository;
  }

  isKnown(agentId: string): boolean {
    return this.#known.has(agentId);
  }

  /**
   * Records the agents (id and latest ts) in the table when this process has not yet seen them there, and
   * resolves with the ids that were new to the table. Concurrent calls for the same agent share one upsert.
   */
  async ensure(sightings: ReadonlyMap<string, number>): Promise<string[]> {
    const unknown: Array<[string, number]> = [];
    const waiting: Array<Promise<boolean>> = [];
    for (const [agentId, ts] of sightings) {
      if (this.#known.has(agentId)) {
        this.#noteSeen(agentId, ts);
        continue;
      }
      const pending = this.#inFlight.get(agentId);
      if (pending !== undefined) waiting.push(pending);
      else unknown.push([agentId, ts]);
    }
    let created: string[] = [];
    if (unknown.length > 0) {
      const upsert = this.#repository.seenMany(unknown);
      for (const [agentId] of unknown) {
        const mine = upsert.then((ids) => ids.includes(agentId));
        mine.catch(() => undefined);
        this.#inFlight.set(agentId, mine);
      }
      try {
        created = await upsert;
        if (this.#known.size + unknown.length > this.#capacity) this.#known.clear();
        for (const [agentId] of unknown) this.#known.add(agentId);
      } finally {
        for (const [agentId] of unknown) this.#inFlight.delete(agentId);
      }
    }
    await Promise.all(waiting);
    return created;
  }

  /** Marks an agent as present (after an explicit registration). */
  remember(agentId: string): void {
    if (this.#known.size >= this.#capacity) this.#known.clear();
    this.#known.add(agentId);
  }

  #noteSeen(agentId: string, ts: number): void {
    const previous = this.#lastSeen.get(agentId);
    if (previous === undefined || ts > previous) this.#lastSeen.set(agentId, ts);
  }

  /**
   * Writes the latest sighting of every known agent seen since the last call (`last_seen`), in one statement.
   * On failure the sightings are kept for the next call.
   */
  async flushLastSeen(): Promise<void> {
    if (this.#lastSeen.size === 0) return;
    const batch = [...this.#lastSeen];
    this.#lastSeen.clear();
    try {
      await this.#repository.seenMany(batch);
    } catch (error) {
      for (const [agentId, ts] of batch) this.#noteSeen(agentId, ts);
      throw error;
    }
  }
}
