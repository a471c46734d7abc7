import { randomUUID } from 'node:crypto';
import type { MemoryRecord } from '@immune/core';
import type { Selectable } from 'kysely';
import { toDate, toMillis } from '../conversions.js';
import type { Db, ImmuneMemoryTable } from '../database.js';

/** A final verdict on one healing action, with when it was reached. */
export interface StoredMemoryRecord extends MemoryRecord {
  id: string;
  ts: number;
}

const toRecord = (row: Selectable<ImmuneMemoryTable>): StoredMemoryRecord => ({
  ...row,
  ts: toMillis(row.ts),
});

export class ImmuneMemoryRepository {
  constructor(private readonly db: Db) {}

  /**
   * Remembers an outcome. Use the healing attempt's id as `id` so that recording the same verdict twice (a
   * redelivered event) does not count it twice in the fleet-wide success rates. Returns false on a repeat.
   */
  async record(record: MemoryRecord & { ts: number; id?: string }): Promise<boolean> {
    const result = await this.db
      .insertInto('immune_memory')
      .values({
        id: record.id ?? randomUUID(),
        agent_id: record.agent_id,
        diagnosis: record.diagnosis,
        action: record.action,
        outcome: record.outcome,
        ts: toDate(record.ts),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /**
   * Oldest first, the order core's `summarizeMemory` needs: for each agent the latest verdict on an action
   * wins. `since` drops verdicts too old to say anything about today's fleet.
   */
  async list(options: { since?: number; agentId?: string } = {}): Promise<StoredMemoryRecord[]> {
    let query = this.db.selectFrom('immune_memory').selectAll();
    if (options.since !== undefined) query = query.where('ts', '>=', toDate(options.since));
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    const rows = await query.orderBy('ts').orderBy('id').execute();
    return rows.map(toRecord);
  }
}
