import type { LifecycleState, LifecycleTransition } from '@immune/core';
import { type Selectable, sql } from 'kysely';
import { toDate, toMillis } from '../conversions.js';
import type { Db, LifecycleEventsTable } from '../database.js';

const toTransition = (row: Selectable<LifecycleEventsTable>): LifecycleTransition => ({
  agent_id: row.agent_id,
  from: row.from_state,
  to: row.to_state,
  trigger: row.trigger,
  ts: toMillis(row.ts),
  seq: row.seq,
  ...(row.reason === null ? {} : { reason: row.reason }),
});

/** One agent's lifecycle over a window: where it stood when the window opened, and what happened inside. */
export interface StateTimeline {
  agent_id: string;
  /** When the agent enters the window: the window's start, or its first sighting if that is later. */
  from: number;
  /** Its state then: the newest transition before `from`, else INITIALIZING. */
  initial: LifecycleState;
  /** Transitions at or after `from` and before the window's end, in order. */
  transitions: LifecycleTransition[];
}

export class LifecycleEventRepository {
  constructor(private readonly db: Db) {}

  /**
   * Appends a transition; appending the same (agent, seq) again is a no-op that returns false. When the event
   * is the agent's newest, `agents.state` follows it in the same statement, so the agent list and the event
   * log cannot disagree even if events arrive out of order.
   */
  async append(event: LifecycleTransition): Promise<boolean> {
    const result = await sql<{ appended: number }>`
      with appended as (
        insert into lifecycle_events (agent_id, seq, from_state, to_state, trigger, reason, ts)
        values (${event.agent_id}, ${event.seq}, ${event.from}, ${event.to}, ${event.trigger},
                ${event.reason ?? null}, ${toDate(event.ts)})
        on conflict (agent_id, seq) do nothing
        returning agent_id, seq, to_state
      ), moved as (
        update agents set state = appended.to_state from appended
        where agents.id = appended.agent_id
          and not exists (
            select 1 from lifecycle_events later
            where later.agent_id = appended.agent_id and later.seq > appended.seq)
        returning agents.id
      )
      select (select count(*) from appended)::int as appended`.execute(this.db);
    return (result.rows[0]?.appended ?? 0) > 0;
  }

  /**
   * `append` for many transitions in one statement (the sentinel batches the transitions its decisions
   * produce together). When several are for one agent, `agents.state` follows the highest seq.
   */
  async appendMany(events: readonly LifecycleTransition[]): Promise<void> {
    if (events.length === 0) return;
    const rows = sql.join(
      events.map(
        (e) =>
          sql`(${e.agent_id}, ${e.seq}::int, ${e.from}, ${e.to}, ${e.trigger}, ${e.reason ?? null}, ${toDate(e.ts)}::timestamptz)`,
      ),
    );
    await sql`
      with appended as (
        insert into lifecycle_events (agent_id, seq, from_state, to_state, trigger, reason, ts)
        values ${rows}
        on conflict (agent_id, seq) do nothing
        returning agent_id, seq, to_state
      )
      update agents set state = appended.to_state from appended
      where agents.id = appended.agent_id
        and not exists (
          select 1 from appended newer
          where newer.agent_id = appended.agent_id and newer.seq > appended.seq)
        and not exists (
          select 1 from lifecycle_events later
          where later.agent_id = appended.agent_id and later.seq > appended.seq)`.execute(this.db);
  }

  /** The agent's transitions in order; `afterSeq` continues from a known position. */
  async history(
    agentId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<LifecycleTransition[]> {
    const rows = await this.db
      .selectFrom('lifecycle_events')
      .selectAll()
      .where('agent_id', '=', agentId)
      .where('seq', '>', options.afterSeq ?? 0)
      .orderBy('seq')
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(toTransition);
  }

  /** The agent's newest transition: where a restarted sentinel resumes its state machine. */
  async latest(agentId: string): Promise<LifecycleTransition | undefined> {
    const row = await this.db
      .selectFrom('lifecycle_events')
      .selectAll()
      .where('agent_id', '=', agentId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : toTransition(row);
  }

  /** Fleet-wide, newest first: the dashboard's event feed. */
  async recent(options: { since?: number; limit?: number } = {}): Promise<LifecycleTransition[]> {
    let query = this.db.selectFrom('lifecycle_events').selectAll();
    if (options.since !== undefined) query = query.where('ts', '>=', toDate(options.since));
    const rows = await query
      .orderBy('ts', 'desc')
      .orderBy('agent_id')
      .orderBy('seq', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(toTransition);
  }

  /**
   * Every agent known before `until` with its lifecycle over [since, until): three queries whatever the fleet's
   * size, for headline figures such as the share of agent-time spent serving.
   */
  async timelines(options: { since: number; until: number }): Promise<StateTimeline[]> {
    const since = toDate(options.since);
    const until = toDate(options.until);
    const [agents, before, inside] = await Promise.all([
      this.db
        .selectFrom('agents')
        .select(['id', 'first_seen'])
        .where('first_seen', '<', until)
        .orderBy('id')
        .execute(),
      this.db
        .selectFrom('lifecycle_events')
        .distinctOn('agent_id')
        .select(['agent_id', 'to_state'])
        .where('ts', '<', since)
        .orderBy('agent_id')
        .orderBy('seq', 'desc')
        .execute(),
      this.db
        .selectFrom('lifecycle_events')
        .selectAll()
        .where('ts', '>=', since)
        .where('ts', '<', until)
        .orderBy('agent_id')
        .orderBy('seq')
        .execute(),
    ]);
    const initial = new Map(before.map((row) => [row.agent_id, row.to_state]));
    const moves = new Map<string, LifecycleTransition[]>();
    for (const row of inside) {
      const list = moves.get(row.agent_id) ?? [];
      list.push(toTransition(row));
      moves.set(row.agent_id, list);
    }
    return agents.map((agent) => ({
      agent_id: agent.id,
      from: Math.max(options.since, toMillis(agent.first_seen)),
      initial: initial.get(agent.id) ?? 'INITIALIZING',
      transitions: moves.get(agent.id) ?? [],
    }));
  }
}
