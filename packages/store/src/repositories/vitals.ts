import type { Vital } from '@immune/core';
import { CompiledQuery, type Selectable, sql } from 'kysely';
import { toDate, toMillis } from '../conversions.js';
import type { Db, VitalsTable } from '../database.js';
import {
  createVitalsPartitions,
  dayOf,
  isMissingPartitionError,
  vitalsLayout,
} from '../vitals-partitions.js';
import { booleanArrayLiteral, numberArrayLiteral, textArrayLiteral } from './array-literals.js';

/** Column order of the batched insert, with the array type each column is sent as. */
const INSERT_COLUMNS = [
  ['id', 'text'],
  ['agent_id', 'text'],
  ['ts', 'int8'],
  ['source', 'text'],
  ['kind', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['latency_ms', 'float8'],
  ['ttft_ms', 'float8'],
  ['input_tokens', 'int4'],
  ['output_tokens', 'int4'],
  ['total_tokens', 'int4'],
  ['tool_calls', 'int4'],
  ['retries', 'int4'],
  ['cost', 'float8'],
  ['success', 'bool'],
  ['error_type', 'text'],
  ['prompt_hash', 'text'],
  ['request_hash', 'text'],
  ['tool_name', 'text'],
  ['mcp_server', 'text'],
  ['trace_id', 'text'],
] as const satisfies ReadonlyArray<readonly [keyof Vital, string]>;

const OPTIONAL_FIELDS = [
  'model',
  'provider',
  'ttft_ms',
  'error_type',
  'prompt_hash',
  'request_hash',
  'tool_name',
  'mcp_server',
  'trace_id',
] as const satisfies ReadonlyArray<keyof Vital>;

const columnList = INSERT_COLUMNS.map(([name]) => name).join(', ');

/**
 * One array parameter per column and unnest() on the server: the statement text never changes with the batch
 * size, there is no 65,535-parameter ceiling, and it measured faster than a multi-row VALUES list and as fast
 * as COPY into a staging table (see bench/writer.bench.ts). Milliseconds become timestamptz in SQL; numeric
 * division keeps them exact.
 */
const INSERT_SQL = `insert into vitals (${columnList})
select ${INSERT_COLUMNS.map(([name]) => (name === 'ts' ? 'to_timestamp(ts / 1000.0)' : name)).join(', ')}
from unnest(${INSERT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) as u(${columnList})
on conflict (id, ts) do nothing`;

/**
 * Inserts vitals in one statement, so the batch commits or fails as a whole. A vital already stored (same id
 * and ts, e.g. redelivered by the bus) is skipped. Returns how many rows were new.
 *
 * On a partitioned table a vital whose day has no partition yet (late, early, or nobody maintains the store)
 * fails the statement; the partitions of the batch's days are then created and the batch retried once. Inside
 * a transaction a failed statement would abort it, so there the partitions are made sure of first.
 */
export async function insertVitals(db: Db, vitals: readonly Vital[]): Promise<number> {
  if (vitals.length === 0) return 0;
  const column: unknown[] = new Array(vitals.length);
  const parameters = INSERT_COLUMNS.map(([name, type]) => {
    for (let row = 0; row < vitals.length; row++) column[row] = vitals[row]![name];
    return type === 'text'
      ? textArrayLiteral(column)
      : type === 'bool'
        ? booleanArrayLiteral(column)
        : numberArrayLiteral(column);
  });
  const insert = async () => {
    const result = await db.executeQuery(CompiledQuery.raw(INSERT_SQL, parameters));
    return Number(result.numAffectedRows ?? 0n);
  };
  // Only days a partition can be named for; a vital outside them fails the retry as it failed the insert.
  const days = () =>
    vitals.flatMap((vital) =>
      Number.isFinite(vital.ts) && vital.ts >= 0 && vital.ts <= MAX_VITAL_TS ? [dayOf(vital.ts)] : [],
    );
  if (db.isTransaction && (await vitalsLayout(db)) === 'partitioned') {
    await createVitalsPartitions(db, days());
    return insert();
  }
  try {
    return await insert();
  } catch (error) {
    if (!isMissingPartitionError(error)) throw error;
    await createVitalsPartitions(db, days());
    return insert();
  }
}

const INT4_MAX = 2_147_483_647;
/**
 * The end of year 9999. timestamptz goes much further, but later instants print as extended ISO years
 * ("+10000-…") that PostgreSQL does not parse back, so queries about them would fail.
 */
export const MAX_VITAL_TS = 253_402_300_799_999;
const REQUIRED_TEXT = ['id', 'agent_id', 'source', 'kind'] as const satisfies ReadonlyArray<keyof Vital>;
const INTEGER_FIELDS = [
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'tool_calls',
  'retries',
] as const satisfies ReadonlyArray<keyof Vital>;

/**
 * Why the database would refuse this vital, or undefined when it can be stored. Checked per vital before it
 * joins a batch, because one unstorable row fails its whole batch: checked late, a single bad vital would
 * keep a thousand good ones from being acked, again on every redelivery.
 */
export function unstorableReason(vital: Vital): string | undefined {
  for (const field of REQUIRED_TEXT) {
    if (typeof vital[field] !== 'string') return `${field} must be a string`;
  }
  if (!Number.isInteger(vital.ts) || vital.ts < 0 || vital.ts > MAX_VITAL_TS) {
    return `ts must be epoch milliseconds, got ${vital.ts}`;
  }
  for (const field of INTEGER_FIELDS) {
    const value = vital[field];
    if (!Number.isInteger(value) || Math.abs(value) > INT4_MAX) {
      return `${field} must be an integer of at most ${INT4_MAX}, got ${value}`;
    }
  }
  if (typeof vital.latency_ms !== 'number') return 'latency_ms must be a number';
  if (typeof vital.cost !== 'number') return 'cost must be a number';
  if (vital.ttft_ms !== undefined && typeof vital.ttft_ms !== 'number') return 'ttft_ms must be a number';
  if (typeof vital.success !== 'boolean') return 'success must be a boolean';
  return undefined;
}

export function rowToVital(row: Selectable<VitalsTable>): Vital {
  const vital: Vital = {
    id: row.id,
    agent_id: row.agent_id,
    ts: toMillis(row.ts),
    source: row.source,
    kind: row.kind,
    latency_ms: row.latency_ms,
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    total_tokens: row.total_tokens,
    tool_calls: row.tool_calls,
    retries: row.retries,
    cost: row.cost,
    success: row.success,
  };
  for (const field of OPTIONAL_FIELDS) {
    const value = row[field];
    if (value !== null) Object.assign(vital, { [field]: value });
  }
  return vital;
}

/** Per-agent figures over a time range: what a dashboard table of the fleet shows. */
export interface AgentVitalsSummary {
  agent_id: string;
  count: number;
  errors: number;
  retries: number;
  tool_calls: number;
  total_tokens: number;
  cost: number;
  avg_latency_ms: number;
  p95_latency_ms: number;
  last_ts: number;
}

export class VitalRepository {
  constructor(private readonly db: Db) {}

  insertMany(vitals: readonly Vital[]): Promise<number> {
    return insertVitals(this.db, vitals);
  }

  /** The agent's latest vitals, newest first; `before` (epoch ms, exclusive) pages further back. */
  async recent(agentId: string, options: { limit?: number; before?: number } = {}): Promise<Vital[]> {
    let query = this.db.selectFrom('vitals').selectAll().where('agent_id', '=', agentId);
    if (options.before !== undefined) query = query.where('ts', '<', toDate(options.before));
    const rows = await query
      .orderBy('ts', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(rowToVital);
  }

  /** Vitals with from <= ts < to (epoch ms), oldest first, of one agent or of the whole fleet. */
  async between(options: { from: number; to: number; agentId?: string; limit?: number }): Promise<Vital[]> {
    let query = this.db
      .selectFrom('vitals')
      .selectAll()
      .where('ts', '>=', toDate(options.from))
      .where('ts', '<', toDate(options.to));
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    const rows = await query
      .orderBy('ts', 'asc')
      .orderBy('id', 'asc')
      .limit(options.limit ?? 10_000)
      .execute();
    return rows.map(rowToVital);
  }

  /** Vitals in [since, until). */
  async count(options: { agentId?: string; since?: number; until?: number } = {}): Promise<number> {
    let query = this.db.selectFrom('vitals').select(sql<number>`count(*)::int`.as('count'));
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    if (options.since !== undefined) query = query.where('ts', '>=', toDate(options.since));
    if (options.until !== undefined) query = query.where('ts', '<', toDate(options.until));
    const row = await query.executeTakeFirstOrThrow();
    return row.count;
  }

  /** One summary per agent with vitals in [since, until), busiest first. */
  async summarize(options: {
    since: number;
    until?: number;
    agentId?: string;
  }): Promise<AgentVitalsSummary[]> {
    let query = this.db
      .selectFrom('vitals')
      .select([
        'agent_id',
        sql<number>`count(*)::int`.as('count'),
        sql<number>`(count(*) filter (where not success))::int`.as('errors'),
        sql<number>`sum(retries)::int`.as('retries'),
        sql<number>`sum(tool_calls)::int`.as('tool_calls'),
        sql<number>`sum(total_tokens)::float8`.as('total_tokens'),
        sql<number>`sum(cost)::float8`.as('cost'),
        sql<number>`avg(latency_ms)::float8`.as('avg_latency_ms'),
        sql<number>`percentile_cont(0.95) within group (order by latency_ms)::float8`.as('p95_latency_ms'),
        sql<Date>`max(ts)`.as('last_ts'),
      ])
      .where('ts', '>=', toDate(options.since));
    if (options.until !== undefined) query = query.where('ts', '<', toDate(options.until));
    if (options.agentId !== undefined) query = query.where('agent_id', '=', options.agentId);
    const rows = await query.groupBy('agent_id').orderBy('count', 'desc').orderBy('agent_id').execute();
    return rows.map((row) => ({ ...row, last_ts: toMillis(row.last_ts) }));
  }
}
