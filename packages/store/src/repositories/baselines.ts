import type { DetectorSnapshot, VitalKind } from '@immune/core';
import { sql } from 'kysely';
import { toDate, toJson, toMillis } from '../conversions.js';
import type { Db } from '../database.js';

/** One agent's detector state for one kind of vital, as the sentinel checkpoints it. */
export interface StoredBaseline {
  agent_id: string;
  kind: VitalKind;
  snapshot: DetectorSnapshot;
  updated_at: number;
}

export class BaselineRepository {
  constructor(private readonly db: Db) {}

  /**
   * Upserts checkpoints in one statement. A checkpoint older than the stored one is ignored, so a sentinel
   * that lost a partition (and flushes late) cannot roll back the state its successor already saved.
   */
  async saveMany(baselines: readonly StoredBaseline[]): Promise<void> {
    if (baselines.length === 0) return;
    // One upsert may not touch a row twice: keep the newest checkpoint per key.
    const newest = new Map<string, StoredBaseline>();
    for (const baseline of baselines) {
      const key = `${baseline.agent_id}\u0000${baseline.kind}`;
      const seen = newest.get(key);
      if (seen === undefined || seen.updated_at <= baseline.updated_at) newest.set(key, baseline);
    }
    await this.db
      .insertInto('baselines')
      .values(
        [...newest.values()].map((b) => ({
          agent_id: b.agent_id,
          kind: b.kind,
          snapshot: toJson(b.snapshot),
          updated_at: toDate(b.updated_at),
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['agent_id', 'kind'])
          .doUpdateSet({ snapshot: sql`excluded.snapshot`, updated_at: sql`excluded.updated_at` })
          .whereRef('baselines.updated_at', '<=', 'excluded.updated_at'),
      )
      .execute();
  }

  save(baseline: StoredBaseline): Promise<void> {
    return this.saveMany([baseline]);
  }

  async get(agentId: string, kind: VitalKind): Promise<StoredBaseline | undefined> {
    const row = await this.db
      .selectFrom('baselines')
      .selectAll()
      .where('agent_id', '=', agentId)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row === undefined ? undefined : { ...row, updated_at: toMillis(row.updated_at) };
  }

  /** Every checkpoint, or those of the given agents: what a sentinel loads for its partitions on start. */
  async list(options: { agentIds?: readonly string[] } = {}): Promise<StoredBaseline[]> {
    let query = this.db.selectFrom('baselines').selectAll();
    if (options.agentIds !== undefined) {
      if (options.agentIds.length === 0) return [];
      // One array parameter: a partition can hold more agents than a statement may have parameters.
      query = query.where(sql<boolean>`agent_id = any(${[...options.agentIds]}::text[])`);
    }
    const rows = await query.orderBy('agent_id').orderBy('kind').execute();
    return rows.map((row) => ({ ...row, updated_at: toMillis(row.updated_at) }));
  }

  async remove(agentId: string): Promise<number> {
    const result = await this.db.deleteFrom('baselines').where('agent_id', '=', agentId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
