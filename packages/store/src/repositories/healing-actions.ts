import type { HealingAttempt } from '@immune/core';
import { type Selectable, sql } from 'kysely';
import { toDate, toMillis } from '../conversions.js';
import type { Db, HealingActionsTable } from '../database.js';

/** A healing attempt as stored: `ts` is when it started, `updated_at` when its status last changed. */
export interface HealingActionRecord extends HealingAttempt {
  updated_at: number;
}

const toRecord = (row: Selectable<HealingActionsTable>): HealingActionRecord => ({
  id: row.id,
  infection_id: row.infection_id,
  agent_id: row.agent_id,
  diagnosis: row.diagnosis,
  action: row.action,
  step: row.step,
  status: row.status,
  ts: toMillis(row.ts),
  updated_at: toMillis(row.updated_at),
  ...(row.detail === null ? {} : { detail: row.detail }),
});

export class HealingActionRepository {
  constructor(private readonly db: Db) {}

  /**
   * Records an attempt or its progress (pending -> applied -> succeeded / failed): the first call inserts,
   * later ones with the same id update status, detail and updated_at. An update older than the stored one
   * is ignored, so a late redelivered `healing.attempted` cannot undo `healing.succeeded`.
   */
  async upsert(attempt: HealingAttempt): Promise<void> {
    await this.db
      .insertInto('healing_actions')
      .values(toRow(attempt))
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({
            status: sql`excluded.status`,
            detail: sql`coalesce(excluded.detail, healing_actions.detail)`,
            updated_at: sql`excluded.updated_at`,
          })
          .whereRef('healing_actions.updated_at', '<=', 'excluded.updated_at'),
      )
      .execute();
  }

  /**
   * Inserts the attempt only if no row has its id yet; true when this call wrote it. With deterministic ids
   * the insert is a claim: whoever wrote the row runs the action, anyone later (a restarted healer, a
   * redelivered event) does not run it again.
   */
  async claim(attempt: HealingAttempt): Promise<boolean> {
    const result = await this.db
      .insertInto('healing_actions')
      .values(toRow(attempt))
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async get(id: string): Promise<HealingActionRecord | undefined> {
    const row = await this.db
      .selectFrom('healing_actions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /** The infection's ladder so far, in step order. */
  async forInfection(infectionId: string): Promise<HealingActionRecord[]> {
    const rows = await this.db
      .selectFrom('healing_actions')
      .selectAll()
      .where('infection_id', '=', infectionId)
      .orderBy('step')
      .orderBy('ts')
      .execute();
    return rows.map(toRecord);
  }

  /** Newest first. */
  async forAgent(agentId: string, options: { limit?: number } = {}): Promise<HealingActionRecord[]> {
    const rows = await this.db
      .selectFrom('healing_actions')
      .selectAll()
      .where('agent_id', '=', agentId)
      .orderBy('ts', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(toRecord);
  }
}

function toRow(attempt: HealingAttempt) {
  const ts = toDate(attempt.ts);
  return {
    id: attempt.id,
    infection_id: attempt.infection_id,
    agent_id: attempt.agent_id,
    diagnosis: attempt.diagnosis,
    action: attempt.action,
    step: attempt.step,
    status: attempt.status,
    detail: attempt.detail ?? null,
    ts,
    updated_at: ts,
  };
}
