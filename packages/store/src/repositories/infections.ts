import type { Diagnosis, InfectionReport, Severity } from '@immune/core';
import type { Selectable } from 'kysely';
import { toDate, toJson, toMillis } from '../conversions.js';
import type { Db, InfectionStatus, InfectionsTable } from '../database.js';

export interface Infection {
  id: string;
  agent_id: string;
  ts: number;
  severity: Severity;
  max_deviation: number;
  fleet_correlated: boolean;
  report: InfectionReport;
  diagnosis: Diagnosis | null;
  status: InfectionStatus;
}

const toInfection = (row: Selectable<InfectionsTable>): Infection => ({ ...row, ts: toMillis(row.ts) });

export class InfectionRepository {
  constructor(private readonly db: Db) {}

  /** Stores the sentinel's report; false when an infection with this id is already stored (redelivery). */
  async record(report: InfectionReport, status: InfectionStatus = 'detected'): Promise<boolean> {
    const result = await this.db
      .insertInto('infections')
      .values({
        id: report.id,
        agent_id: report.agent_id,
        ts: toDate(report.ts),
        severity: report.severity,
        max_deviation: report.max_deviation,
        fleet_correlated: report.fleet_correlated,
        report: toJson(report),
        status,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async get(id: string): Promise<Infection | undefined> {
    const row = await this.db.selectFrom('infections').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toInfection(row);
  }

  /** Several infections by id, in no particular order (ids not stored are absent). */
  async getMany(ids: readonly string[]): Promise<Infection[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('infections')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(toInfection);
  }

  /** Attaches the diagnostician's ranking (and usually moves the status on). */
  async setDiagnosis(
    id: string,
    diagnosis: Diagnosis,
    status: InfectionStatus = 'diagnosed',
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('infections')
      .set({ diagnosis: toJson(diagnosis), status })
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Sets the status; with `from`, only when the current status is one of those (a compare-and-set). */
  async setStatus(id: string, status: InfectionStatus, from?: readonly InfectionStatus[]): Promise<boolean> {
    let query = this.db.updateTable('infections').set({ status }).where('id', '=', id);
    if (from !== undefined) {
      if (from.length === 0) return false;
      query = query.where('status', 'in', [...from]);
    }
    const result = await query.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Newest first; detected in [since, until). */
  async list(
    options: {
      agentId?: string;
      status?: readonly InfectionStatus[];
      since?: number;
      until?: number;
      limit?: number;
    } = {},
  ): Promise<Infection[]> {
    let query = this.db.selectFrom('infections').selectAll();
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    if (options.status !== undefined) {
      if (options.status.length === 0) return [];
      query = query.where('status', 'in', [...options.status]);
    }
    if (options.since !== undefined) query = query.where('ts', '>=', toDate(options.since));
    if (options.until !== undefined) query = query.where('ts', '<', toDate(options.until));
    const rows = await query
      .orderBy('ts', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(toInfection);
  }
}
