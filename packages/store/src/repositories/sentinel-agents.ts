import type { AgentTriageSnapshot, VitalKind } from '@immune/core';
import { type Selectable, sql } from 'kysely';
import { toJson, toMillis } from '../conversions.js';
import type { Db, SentinelAgentsTable } from '../database.js';
import { BaselineRepository, type StoredBaseline } from './baselines.js';

/** One agent's checkpoint as the sentinel writes it. */
export interface SentinelCheckpoint {
  partition: number;
  snapshot: AgentTriageSnapshot;
  updated_at: number;
}

const KINDS: readonly VitalKind[] = ['llm', 'tool', 'task'];
/** Agents per statement (a ~1 KB JSON document each). */
const SAVE_CHUNK = 1_000;
const BASELINES_CHUNK = 2_000;

/**
 * The sentinel's checkpoints: one row per agent in `sentinel_agents` with the whole triage state, baselines
 * included, so a checkpoint is one row per agent and a restored agent's dedupe ring always matches its
 * baselines. The `baselines` table (one row per agent and vital kind, for dashboards) is a read model the
 * sentinel refreshes less often with `saveBaselines`.
 */
export class SentinelAgentRepository {
  constructor(private readonly db: Db) {}

  async saveMany(checkpoints: readonly SentinelCheckpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    const rows = [...newestPerAgent(checkpoints).values()];
    await this.db.transaction().execute(async (trx) => {
      for (let from = 0; from < rows.length; from += SAVE_CHUNK) {
        // One JSON document per statement rather than four parameters per agent: building thousands of
        // query nodes and parameters made garbage the collector paid for on every checkpoint, and a statement
        // takes at most 65,535 parameters.
        const payload = `[${rows
          .slice(from, from + SAVE_CHUNK)
          .map(
            ({ partition, snapshot, updated_at }) =>
              `{"agent_id":${JSON.stringify(snapshot.agent_id)},"partition":${partition},"updated_at":${Math.round(updated_at)},"state":${toJson(snapshot)}}`,
          )
          .join(',')}]`;
        await sql`
          insert into sentinel_agents (agent_id, partition, state, updated_at)
          select r.agent_id, r.partition, r.state, timestamptz 'epoch' + r.updated_at * interval '1 millisecond'
          from jsonb_to_recordset(${payload}::jsonb)
            as r(agent_id text, partition int, state jsonb, updated_at bigint)
          on conflict (agent_id) do update
            set partition = excluded.partition, state = excluded.state, updated_at = excluded.updated_at
            where sentinel_agents.updated_at <= excluded.updated_at`.execute(trx);
      }
    });
  }

  /** Refreshes the `baselines` read model from checkpoints. */
  async saveBaselines(checkpoints: readonly SentinelCheckpoint[]): Promise<void> {
    const baselines: StoredBaseline[] = [];
    for (const { snapshot, updated_at } of newestPerAgent(checkpoints).values()) {
      for (const kind of KINDS) {
        const detector = snapshot.detectors[kind];
        if (detector !== undefined)
          baselines.push({ agent_id: snapshot.agent_id, kind, snapshot: detector, updated_at });
      }
    }
    const repository = new BaselineRepository(this.db);
    // Four parameters per row; a statement takes at most 65,535.
    for (let from = 0; from < baselines.length; from += BASELINES_CHUNK) {
      await repository.saveMany(baselines.slice(from, from + BASELINES_CHUNK));
    }
  }

  /** Every checkpoint of the given partitions: what an instance loads at start. */
  async list(options: { partitions?: readonly number[] } = {}): Promise<SentinelCheckpoint[]> {
    let query = this.db.selectFrom('sentinel_agents').selectAll();
    if (options.partitions !== undefined) {
      if (options.partitions.length === 0) return [];
      query = query.where(sql<boolean>`partition = any(${[...options.partitions]}::int[])`);
    }
    const rows = await query.orderBy('agent_id').execute();
    return rows.map(toCheckpoint);
  }

  async get(agentId: string): Promise<SentinelCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('sentinel_agents')
      .selectAll()
      .where('agent_id', '=', agentId)
      .executeTakeFirst();
    return row === undefined ? undefined : toCheckpoint(row);
  }
}

function toCheckpoint(row: Selectable<SentinelAgentsTable>): SentinelCheckpoint {
  return { partition: row.partition, updated_at: toMillis(row.updated_at), snapshot: row.state };
}

function newestPerAgent(checkpoints: readonly SentinelCheckpoint[]): Map<string, SentinelCheckpoint> {
  const newest = new Map<string, SentinelCheckpoint>();
  for (const checkpoint of checkpoints) {
    const seen = newest.get(checkpoint.snapshot.agent_id);
    if (seen === undefined || seen.updated_at <= checkpoint.updated_at) {
      newest.set(checkpoint.snapshot.agent_id, checkpoint);
    }
  }
  return newest;
}
