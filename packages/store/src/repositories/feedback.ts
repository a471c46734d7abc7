import { randomUUID } from 'node:crypto';
import type { AnomalyType, DiagnosisType } from '@immune/core';
import type { Selectable } from 'kysely';
import { toDate, toJson, toMillis } from '../conversions.js';
import type { Db, FeedbackTable } from '../database.js';

/** An operator's label on a past diagnosis: what it was predicted to be and what it really was. */
export interface Feedback {
  id: string;
  infection_id: string;
  agent_id: string;
  predicted: DiagnosisType;
  true_cause: DiagnosisType;
  /** The infection's anomaly types, kept here so folding feedback needs no join with infections. */
  anomaly_types: AnomalyType[];
  operator: string;
  ts: number;
}

const toFeedback = (row: Selectable<FeedbackTable>): Feedback => ({ ...row, ts: toMillis(row.ts) });

export class FeedbackRepository {
  constructor(private readonly db: Db) {}

  async record(feedback: Omit<Feedback, 'id'> & { id?: string }): Promise<Feedback> {
    const row = await this.db
      .insertInto('feedback')
      .values({
        id: feedback.id ?? randomUUID(),
        infection_id: feedback.infection_id,
        agent_id: feedback.agent_id,
        predicted: feedback.predicted,
        true_cause: feedback.true_cause,
        anomaly_types: toJson(feedback.anomaly_types),
        operator: feedback.operator,
        ts: toDate(feedback.ts),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFeedback(row);
  }

  /** Oldest first: fold with core's `recordFeedback` to get the diagnostician's `FeedbackCounts`. */
  async list(options: { since?: number; limit?: number } = {}): Promise<Feedback[]> {
    let query = this.db.selectFrom('feedback').selectAll();
    if (options.since !== undefined) query = query.where('ts', '>=', toDate(options.since));
    const rows = await query
      .orderBy('ts')
      .orderBy('id')
      .limit(options.limit ?? 100_000)
      .execute();
    return rows.map(toFeedback);
  }

  async forInfection(infectionId: string): Promise<Feedback[]> {
    const rows = await this.db
      .selectFrom('feedback')
      .selectAll()
      .where('infection_id', '=', infectionId)
      .orderBy('ts')
      .execute();
    return rows.map(toFeedback);
  }
}
