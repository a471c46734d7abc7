import type { AgentTriageSnapshot, VitalKind } from '@immune/core';
import { sql } from 'kysely';
import { toDate, toJson, toMillis } from '../conversions.js';
import type { Db, SentinelAgentState } from '../database.js';
import { BaselineRepository, type StoredBaseline } from './baselines.js';

/** One agent's checkpoint as the sentinel writes it. */
export interface SentinelCheckpoint {
  partition: number;
  snapshot: AgentTriageSnapshot;
  updated_at: number;
}

const KINDS: readonly VitalKind[] = ['llm', 'tool', 'task'];

/**
 * The sentinel's checkpoints: the detector baselines go to `baselines` (one row per agent and vital kind, where
 * dashboards read them), the rest of the triage state to `sentinel_agents`. `saveMany` writes both in one
 * transaction, so a restored agent's dedupe ring always matches its baselines.
 */
export class SentinelAgentRepository {
  constructor(private readonly db: Db) {}

  async saveMany(checkpoints: readonly SentinelCheckpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    const newest = new Map<string, SentinelCheckpoint>();
    for (const checkpoint of checkpoints) {
      const seen = newest.get(checkpoint.snapshot.agent_id);
      if (seen === undefined || seen.updated_at <= checkpoint.updated_at) {
        newest.set(checkpoint.snapshot.agent_id, checkpoint);
      }
    }
    const rows = [...newest.values()];
    const baselines: StoredBaseline[] = [];
    for (const { snapshot, updated_at } of rows) {
      for (const kind of KINDS) {
        const detector = snapshot.detectors[kind];
        if (detector !== undefined)
          baselines.push({ agent_id: snapshot.agent_id, kind, snapshot: detector, updated_at });
      }
    }
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('sentinel_agents')
        .values(
          rows.map(({ partition, snapshot, updated_at }) => {
            const { detectors: _detectors, ...state } = snapshot;
            return {
              agent_id: snapshot.agent_id,
              partition,
              state: toJson(state),
              updated_at: toDate(updated_at),
            };
          }),
        )
        .onConflict((oc) =>
          oc
            .column('agent_id')
            .doUpdateSet({
              partition: sql`excluded.partition`,
              state: sql`excluded.state`,
              updated_at: sql`excluded.updated_at`,
            })
            .whereRef('sentinel_agents.updated_at', '<=', 'excluded.updated_at'),
        )
        .execute();
      await new BaselineRepository(trx).saveMany(baselines);
    });
  }

  /** Every checkpoint of the given partitions, baselines included: what an instance loads at start. */
  async list(options: { partitions?: readonly number[] } = {}): Promise<SentinelCheckpoint[]> {
    let query = this.db.selectFrom('sentinel_agents').selectAll();
    if (options.partitions !== undefined) {
      if (options.partitions.length === 0) return [];
      query = query.where(sql<boolean>`partition = any(${[...options.partitions]}::int[])`);
    }
    const rows = await query.orderBy('agent_id').execute();
    if (rows.length === 0) return [];
    const baselines = await new BaselineRepository(this.db).list({ agentIds: rows.map((r) => r.agent_id) });
    const byAgent = new Map<string, AgentTriageSnapshot['detectors']>();
    for (const baseline of baselines) {
      let detectors = byAgent.get(baseline.agent_id);
      if (detectors === undefined) {
        detectors = {};
        byAgent.set(baseline.agent_id, detectors);
      }
      detectors[baseline.kind] = baseline.snapshot;
    }
    return rows.map((row) => ({
      partition: row.partition,
      updated_at: toMillis(row.updated_at),
      snapshot: { ...(row.state as SentinelAgentState), detectors: byAgent.get(row.agent_id) ?? {} },
    }));
  }

  async get(agentId: string): Promise<SentinelCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('sentinel_agents')
      .selectAll()
      .where('agent_id', '=', agentId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const detectors: AgentTriageSnapshot['detectors'] = {};
    for (const baseline of await new BaselineRepository(this.db).list({ agentIds: [agentId] })) {
      detectors[baseline.kind] = baseline.snapshot;
    }
    return {
      partition: row.partition,
      updated_at: toMillis(row.updated_at),
      snapshot: { ...(row.state as SentinelAgentState), detectors },
    };
  }
}
