import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { toDate, toMillis, toMillisOrNull } from '../conversions.js';
import type { ApprovalStatus, ApprovalsTable, Db } from '../database.js';

export interface Approval {
  id: string;
  infection_id: string;
  agent_id: string;
  status: ApprovalStatus;
  requested_at: number;
  decided_at: number | null;
  decided_by: string | null;
  note: string | null;
}

export interface ApprovalDecision {
  status: Exclude<ApprovalStatus, 'pending'>;
  /** Who decided: an operator's name, or the system for `cancelled`. */
  by: string;
  ts: number;
  note?: string;
}

const toApproval = (row: Selectable<ApprovalsTable>): Approval => ({
  ...row,
  requested_at: toMillis(row.requested_at),
  decided_at: toMillisOrNull(row.decided_at),
});

export class ApprovalRepository {
  constructor(private readonly db: Db) {}

  /**
   * Opens the approval for a severe infection, or returns the one already open for it: the
   * `infection.detected` event may be delivered twice, the operator must see the case once.
   */
  async request(input: {
    infection_id: string;
    agent_id: string;
    ts: number;
    id?: string;
  }): Promise<Approval> {
    const inserted = await this.db
      .insertInto('approvals')
      .values({
        id: input.id ?? randomUUID(),
        infection_id: input.infection_id,
        agent_id: input.agent_id,
        requested_at: toDate(input.ts),
      })
      .onConflict((oc) => oc.column('infection_id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted !== undefined) return toApproval(inserted);
    const existing = await this.forInfection(input.infection_id);
    if (existing === undefined) throw new Error(`approval for infection ${input.infection_id} vanished`);
    return existing;
  }

  /**
   * Decides a pending approval. Returns undefined when it is unknown or was already decided, so two operators
   * clicking at once produce one decision, not two healings.
   */
  async decide(id: string, decision: ApprovalDecision): Promise<Approval | undefined> {
    const [decided] = await this.decideMany([id], decision);
    return decided;
  }

  /**
   * Bulk approve / reject: decides those of `ids` still pending and returns them. `from` widens the states a
   * decision may leave (the healer's "heal now" approves cases an operator rejected before).
   */
  async decideMany(
    ids: readonly string[],
    decision: ApprovalDecision,
    options: { from?: readonly ApprovalStatus[] } = {},
  ): Promise<Approval[]> {
    const from = options.from ?? ['pending'];
    if (ids.length === 0 || from.length === 0) return [];
    const rows = await this.db
      .updateTable('approvals')
      .set({
        status: decision.status,
        decided_at: toDate(decision.ts),
        decided_by: decision.by,
        note: decision.note ?? null,
      })
      .where('id', 'in', [...ids])
      .where('status', 'in', [...from])
      .returningAll()
      .execute();
    return rows.map(toApproval);
  }

  async get(id: string): Promise<Approval | undefined> {
    const row = await this.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toApproval(row);
  }

  async forInfection(infectionId: string): Promise<Approval | undefined> {
    const row = await this.db
      .selectFrom('approvals')
      .selectAll()
      .where('infection_id', '=', infectionId)
      .executeTakeFirst();
    return row === undefined ? undefined : toApproval(row);
  }

  /** Oldest first, the order an operator should work through them. */
  async list(
    options: { status?: ApprovalStatus; agentId?: string; limit?: number } = {},
  ): Promise<Approval[]> {
    let query = this.db.selectFrom('approvals').selectAll();
    if (options.status !== undefined) query = query.where('status', '=', options.status);
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    const rows = await query
      .orderBy('requested_at')
      .orderBy('id')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(toApproval);
  }

  pending(options: { limit?: number } = {}): Promise<Approval[]> {
    return this.list({ ...options, status: 'pending' });
  }
}
