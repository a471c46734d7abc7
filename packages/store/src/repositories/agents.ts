import type { LifecycleState } from '@immune/core';
import { type Selectable, sql, type Updateable } from 'kysely';
import { toDate, toJson, toMillis } from '../conversions.js';
import type { AgentsTable, Db } from '../database.js';

export interface Agent {
  id: string;
  name: string | null;
  model: string | null;
  tags: string[];
  mcp_servers: string[];
  /** Where the agent webhook executor sends reset / rollback / restart. */
  control_url: string | null;
  /** Local agents only: the process the signal executor may stop and continue. */
  pid: number | null;
  state: LifecycleState;
  first_seen: number;
  last_seen: number;
  metadata: Record<string, unknown>;
}

/** What an agent says about itself when it registers. Fields left out keep their stored value. */
export interface AgentRegistration {
  id: string;
  ts: number;
  name?: string;
  model?: string;
  tags?: string[];
  mcp_servers?: string[];
  control_url?: string;
  pid?: number;
  metadata?: Record<string, unknown>;
}

const toAgent = (row: Selectable<AgentsTable>): Agent => ({
  ...row,
  first_seen: toMillis(row.first_seen),
  last_seen: toMillis(row.last_seen),
});

export class AgentRepository {
  constructor(private readonly db: Db) {}

  /** Creates or updates the agent; `created` tells a first registration from a repeated one. */
  async register(registration: AgentRegistration): Promise<{ agent: Agent; created: boolean }> {
    const ts = toDate(registration.ts);
    const provided: Updateable<AgentsTable> = {};
    if (registration.name !== undefined) provided.name = registration.name;
    if (registration.model !== undefined) provided.model = registration.model;
    if (registration.tags !== undefined) provided.tags = toJson(registration.tags);
    if (registration.mcp_servers !== undefined) provided.mcp_servers = toJson(registration.mcp_servers);
    if (registration.control_url !== undefined) provided.control_url = registration.control_url;
    if (registration.pid !== undefined) provided.pid = registration.pid;
    if (registration.metadata !== undefined) provided.metadata = toJson(registration.metadata);
    const row = await this.db
      .insertInto('agents')
      .values({ ...provided, id: registration.id, first_seen: ts, last_seen: ts })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ ...provided, last_seen: sql`greatest(agents.last_seen, excluded.last_seen)` }),
      )
      .returningAll()
      // xmax is 0 only on a row version this statement inserted: the usual way to tell insert from update.
      .returning(sql<boolean>`(xmax = 0)`.as('created'))
      .executeTakeFirstOrThrow();
    const { created, ...agent } = row;
    return { agent: toAgent(agent), created };
  }

  /**
   * Records that the agent was seen at `ts`, creating it when unknown (agents are discovered from their
   * traffic). Returns true when the agent is new, i.e. when `agent.discovered` should be published.
   */
  async seen(agentId: string, ts: number): Promise<boolean> {
    return (await this.seenMany([[agentId, ts]])).length > 0;
  }

  /**
   * `seen` for a whole batch of vitals in one statement; returns the ids of agents that were new. Repeated
   * ids keep their latest time, since one upsert may not touch the same row twice.
   */
  async seenMany(sightings: Iterable<readonly [agentId: string, ts: number]>): Promise<string[]> {
    const latest = new Map<string, number>();
    for (const [agentId, ts] of sightings) latest.set(agentId, Math.max(ts, latest.get(agentId) ?? ts));
    if (latest.size === 0) return [];
    const rows = await this.db
      .insertInto('agents')
      .values([...latest].map(([id, ts]) => ({ id, first_seen: toDate(ts), last_seen: toDate(ts) })))
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ last_seen: sql`excluded.last_seen` })
          // Skipping rows that would not move forward saves a write per sighting on the hot path.
          .whereRef('agents.last_seen', '<', 'excluded.last_seen'),
      )
      .returning(['id', sql<boolean>`(xmax = 0)`.as('created')])
      .execute();
    return rows.filter((row) => row.created).map((row) => row.id);
  }

  async get(agentId: string): Promise<Agent | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('id', '=', agentId).executeTakeFirst();
    return row === undefined ? undefined : toAgent(row);
  }

  /** Agents ordered by id, optionally in one lifecycle state. */
  async list(options: { state?: LifecycleState; limit?: number; offset?: number } = {}): Promise<Agent[]> {
    let query = this.db.selectFrom('agents').selectAll();
    if (options.state !== undefined) query = query.where('state', '=', options.state);
    const rows = await query
      .orderBy('id')
      .limit(options.limit ?? 1000)
      .offset(options.offset ?? 0)
      .execute();
    return rows.map(toAgent);
  }

  async countByState(): Promise<Partial<Record<LifecycleState, number>>> {
    const rows = await this.db
      .selectFrom('agents')
      .select(['state', sql<number>`count(*)::int`.as('count')])
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((row) => [row.state, row.count]));
  }

  /**
   * Sets the state directly. Transitions normally arrive through `LifecycleEventRepository.append`, which
   * keeps this column in step with the event log; this is for repairs and tests.
   */
  async setState(agentId: string, state: LifecycleState): Promise<boolean> {
    const result = await this.db
      .updateTable('agents')
      .set({ state })
      .where('id', '=', agentId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async remove(agentId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('agents').where('id', '=', agentId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
