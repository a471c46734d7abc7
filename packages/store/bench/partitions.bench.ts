/**
 * Daily-partitioned `vitals` (migration 0003, the default) against the plain table of the previous release
 * (migrations up to 0002), in the same run on the same server, at a size where the difference shows.
 *
 * Each layout gets its own throwaway schema of DATABASE_URL with a table named `vitals`, so the store's own
 * code runs unchanged against both. For each, in this order:
 *   1. fill: BENCH_ROWS vitals over BENCH_DAYS days (time order, BENCH_AGENTS agents) with COPY, the same
 *      stream for both: rows/s;
 *   2. writer insert: BENCH_INSERT more vitals at "now" through `insertVitals` (the recorder's batched
 *      `INSERT … ON CONFLICT`, batches of 2000, one connection) into the full table: rows/s;
 *   3. series: BENCH_QUERIES per-agent one-hour series (`VitalRepository.between`, what the dashboard's
 *      agent chart asks), seeded random agent and hour, two passes, the second one timed: median and p95 ms;
 *   4. retention of one day: the oldest day goes. Plain: the previous release's `pruneVitals`, a bounded
 *      `DELETE` of 10,000 rows a statement until none is left (its vacuum debt comes on top, not counted);
 *      partitioned: `dropVitalsPartitionsBefore`.
 * Wall time and the server backend's CPU time (from /proc/<backend pid>/stat, so the figure is what the
 * database spent, whatever else the machine does) are both reported; read the ratios.
 *
 * Run: pnpm --filter @immune/store bench:partitions
 *   env DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_ROWS (default 1,000,000),
 *   BENCH_DAYS (8), BENCH_AGENTS (1000), BENCH_INSERT (100,000), BENCH_QUERIES (200), BENCH_LAYOUTS
 *   ("plain,partitioned"), BENCH_KEEP=1 keeps the schemas.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Vital } from '@immune/core';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  createVitalsPartitions,
  DAY_MS,
  type Database,
  dayOf,
  dropVitalsPartitionsBefore,
  insertVitals,
  migrationProvider,
  openStore,
  type Store,
  VitalRepository,
  vitalsLayout,
} from '../src/index.js';

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 8);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const INSERT = Number(process.env.BENCH_INSERT ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const LAYOUTS = (process.env.BENCH_LAYOUTS ?? 'plain,partitioned').split(',') as Array<
  'plain' | 'partitioned'
>;
const KEEP = process.env.BENCH_KEEP === '1';
const HOUR_MS = 3_600_000;
const CLOCK_TICKS = 100; // USER_HZ on Linux

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Whole days ending with today, so "now" falls in the last one and the oldest can be retired whole.
const firstDay = dayOf(Date.now()) - (DAYS - 1);
const start = firstDay * DAY_MS;
const span = DAYS * DAY_MS - HOUR_MS; // keep the last hour free for the writer-insert phase
const run = randomBytes(4).toString('hex');

/** Row i of the fill, as a COPY text line in the table's column order. Deterministic for a given i. */
function copyLine(i: number): string {
  const ts = new Date(start + Math.floor((i * span) / ROWS)).toISOString();
  const tool = i % 10 < 3;
  const input = 300 + ((i * 7919) % 400);
  const output = 100 + ((i * 104_729) % 200);
  const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  // id agent_id ts source kind model provider latency_ms ttft_ms input output total tool_calls retries cost
  // success error_type prompt_hash request_hash tool_name mcp_server trace_id
  return `${id}\tagent-${i % AGENTS}\t${ts}\t${tool ? 'mcp' : 'gateway'}\t${tool ? 'tool' : 'llm'}\tgpt-4o-mini\topenai\t${400 + (i % 800)}\t\\N\t${input}\t${output}\t${input + output}\t${tool ? 1 : 0}\t0\t0.0004\t${i % 50 !== 0 ? 't' : 'f'}\t\\N\t\\N\t\\N\t${tool ? 'read_file' : '\\N'}\t${tool ? 'files' : '\\N'}\t\\N\n`;
}

async function* copyStream(): AsyncGenerator<string> {
  const CHUNK = 5000;
  for (let i = 0; i < ROWS; i += CHUNK) {
    let text = '';
    for (let j = i; j < Math.min(ROWS, i + CHUNK); j++) text += copyLine(j);
    yield text;
  }
}

function vitalAt(i: number, ts: number): Vital {
  return {
    id: `insert-${run}-${i}`,
    agent_id: `agent-${i % AGENTS}`,
    ts,
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    provider: 'openai',
    latency_ms: 400 + (i % 800),
    input_tokens: 500,
    output_tokens: 150,
    total_tokens: 650,
    tool_calls: 0,
    retries: 0,
    cost: 0.0004,
    success: true,
  };
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

interface Timed<T> {
  value: T;
  wall_s: number;
  db_cpu_s: number;
}

/** Runs `work` on one dedicated connection and measures its wall time and that backend's CPU time. */
async function onBackend<T>(schema: string, work: (client: pg.Client) => Promise<T>): Promise<Timed<T>> {
  const client = new pg.Client({
    connectionString: DATABASE_URL,
    options: `-c search_path=${schema},public`,
  });
  await client.connect();
  try {
    const pid = Number((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
    const cpu0 = await cpuSeconds(pid);
    const t0 = performance.now();
    const value = await work(client);
    const wall_s = (performance.now() - t0) / 1000;
    return { value, wall_s, db_cpu_s: (await cpuSeconds(pid)) - cpu0 };
  } finally {
    await client.end();
  }
}

/** A store whose `vitals` has the layout asked for: the previous release's schema, or the current one. */
async function openLayout(layout: 'plain' | 'partitioned'): Promise<Store> {
  const schema = `bench_${layout}_${run}`;
  if (layout === 'partitioned') return openStore({ databaseUrl: DATABASE_URL, schema, maxConnections: 2 });
  const store = await openStore({ databaseUrl: DATABASE_URL, schema, migrate: false, maxConnections: 2 });
  await sql`create schema if not exists ${sql.id(schema)}`.execute(store.db);
  const migrator = new Migrator({ db: store.db, provider: migrationProvider, migrationTableSchema: schema });
  const result = await migrator.migrateTo('0002-sentinel-agents');
  if (result.error !== undefined) throw result.error;
  return store;
}

/** A Kysely that runs everything on one given client (kept open by its owner). */
function onClient(client: pg.Client): Kysely<Database> {
  const pool = {
    connect: async () => Object.assign(client, { release: () => {} }),
    end: async () => {},
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The previous release's retention (pruneVitals before 0003): bounded deletes until nothing is older. */
async function deleteOlderThan(client: pg.Client, cutoff: number): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await client.query(
      'delete from vitals where (id, ts) in (select id, ts from vitals where ts < $1 limit 10000)',
      [new Date(cutoff)],
    );
    total += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < 10_000) return total;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function measure(layout: 'plain' | 'partitioned') {
  const store = await openLayout(layout);
  const schema = store.schema!;
  try {
    if ((await vitalsLayout(store.db)) !== layout) throw new Error(`${schema}: vitals is not ${layout}`);
    if (layout === 'partitioned') {
      await createVitalsPartitions(
        store.db,
        Array.from({ length: DAYS + 1 }, (_, i) => firstDay + i),
      );
    }

    const fill = await onBackend(schema, async (client) => {
      await pipeline(Readable.from(copyStream()), client.query(copyFrom('copy vitals from stdin')));
    });
    await sql`analyze vitals`.execute(store.db);

    const now = start + span + 1;
    // Through the store's pool (one connection at a time), as the recorder's writer does: wall time only.
    const insertStarted = performance.now();
    for (let i = 0; i < INSERT; i += 2000) {
      const batch = Array.from({ length: Math.min(2000, INSERT - i) }, (_, j) => vitalAt(i + j, now + i + j));
      await insertVitals(store.db, batch);
    }
    const insertSeconds = (performance.now() - insertStarted) / 1000;

    const random = mulberry32(42);
    const asks = Array.from({ length: QUERIES }, () => ({
      agentId: `agent-${Math.floor(random() * AGENTS)}`,
      from: start + Math.floor(random() * (span / HOUR_MS - 1)) * HOUR_MS,
    }));
    const repo = new VitalRepository(store.db);
    let rows = 0;
    const latencies: number[] = [];
    for (const pass of [0, 1]) {
      for (const ask of asks) {
        const t0 = performance.now();
        const series = await repo.between({ ...ask, to: ask.from + HOUR_MS, limit: 5000 });
        if (pass === 1) {
          latencies.push(performance.now() - t0);
          rows += series.length;
        }
      }
    }
    latencies.sort((a, b) => a - b);

    const cutoff = start + DAY_MS;
    // Counted before and outside the timing: what retention has to remove.
    const doomed = await sql<{ n: string }>`
      select count(*)::text as n from vitals where ts < ${new Date(cutoff)}`.execute(store.db);
    const retention = await onBackend(schema, async (client) => {
      if (layout === 'plain') return { rows: await deleteOlderThan(client, cutoff), partitions: 0 };
      // On the measured backend, so its CPU time is the drop's.
      const dropped = await dropVitalsPartitionsBefore(onClient(client), cutoff);
      return { rows: Number(doomed.rows[0]?.n ?? 0), partitions: dropped.length };
    });
    const size = await sql<{ bytes: string }>`
      select sum(pg_total_relation_size(c.oid))::text as bytes from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and c.relkind = 'r' and c.relname like 'vitals%'`.execute(store.db);

    return {
      layout,
      rows: ROWS,
      fill_rows_per_s: Math.round(ROWS / fill.wall_s),
      fill_wall_s: round(fill.wall_s),
      fill_db_cpu_s: round(fill.db_cpu_s),
      insert_rows_per_s: Math.round(INSERT / insertSeconds),
      series_median_ms: round(percentile(latencies, 0.5)),
      series_p95_ms: round(percentile(latencies, 0.95)),
      series_rows_per_query: Math.round(rows / QUERIES),
      retention_rows: retention.value.rows,
      retention_partitions: retention.value.partitions,
      retention_wall_s: round(retention.wall_s, 3),
      retention_db_cpu_s: round(retention.db_cpu_s, 3),
      table_bytes_after: Number(size.rows[0]?.bytes ?? 0),
    };
  } finally {
    if (!KEEP) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
    await store.close();
  }
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const results = [];
for (const layout of LAYOUTS) results.push(await measure(layout));
const loadAfter = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const [plain, part] = [
  results.find((r) => r.layout === 'plain'),
  results.find((r) => r.layout === 'partitioned'),
];
const ratios =
  plain && part
    ? {
        fill_rate_partitioned_vs_plain: round(part.fill_rows_per_s / plain.fill_rows_per_s),
        insert_rate_partitioned_vs_plain: round(part.insert_rows_per_s / plain.insert_rows_per_s),
        series_median_partitioned_vs_plain: round(part.series_median_ms / plain.series_median_ms),
        retention_wall_plain_vs_partitioned: round(
          plain.retention_wall_s / Math.max(part.retention_wall_s, 0.001),
        ),
      }
    : {};
process.stdout.write(
  `${JSON.stringify({ rows: ROWS, days: DAYS, agents: AGENTS, load_before: load, load_after: loadAfter, results, ratios }, null, 2)}\n`,
);
