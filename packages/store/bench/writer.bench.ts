/**
 * Vitals/s the batched writer commits into real PostgreSQL, against raw COPY of the same rows into an
 * identical table (same columns, primary key and indexes) in the same run, and the ratio. Machines here are
 * shared and noisy, so every configuration runs several rounds, interleaved, and the median counts.
 *
 * The writer is fed the way the ingest recorder feeds it: a consumer with up to BENCH_WINDOW unacked
 * vitals, each acked when its `add` resolves. Besides the writer's own insert (unnest of one array per
 * column), the bench measures COPY into a temporary staging table followed by INSERT … ON CONFLICT, the
 * other way to get deduplication; the writer keeps whichever measured better.
 *
 * Run: pnpm --filter @immune/store bench
 *   env DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_VITALS (default 100000),
 *   BENCH_ROUNDS (default 3), BENCH_WINDOW (default 20000)
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Vital } from '@immune/core';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  DEFAULT_WRITER_BATCH_SIZE,
  DEFAULT_WRITER_CONCURRENCY,
  openStore,
  VitalsWriter,
} from '../src/index.js';

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.BENCH_VITALS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20_000);
const BATCH_SIZES = [1000, 2000, 4000];
const CONCURRENCIES = [1, 2, 4];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(7);
const start = Date.now() - 3_600_000;
const rows: Vital[] = Array.from({ length: ROWS }, (_, i) => {
  const input = 300 + Math.floor(random() * 400);
  const output = 100 + Math.floor(random() * 200);
  const tool = random() < 0.3;
  return {
    id: `${randomBytes(8).toString('hex')}-${i}`,
    agent_id: `agent-${i % 1000}`,
    ts: start + i,
    source: tool ? 'mcp' : 'gateway',
    kind: tool ? 'tool' : 'llm',
    model: 'gpt-4o-mini',
    provider: 'openai',
    latency_ms: 400 + random() * 800,
    ...(tool ? { tool_name: 'search', mcp_server: 'files' } : { ttft_ms: 80 + random() * 40 }),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: tool ? 1 : 0,
    retries: random() < 0.02 ? 1 : 0,
    cost: (input * 0.15 + output * 0.6) / 1e6,
    success: random() > 0.01,
    prompt_hash: 'f'.repeat(64),
    request_hash: randomBytes(16).toString('hex'),
  };
});

const COLUMNS = [
  'id',
  'agent_id',
  'ts',
  'source',
  'kind',
  'model',
  'provider',
  'latency_ms',
  'ttft_ms',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'tool_calls',
  'retries',
  'cost',
  'success',
  'error_type',
  'prompt_hash',
  'request_hash',
  'tool_name',
  'mcp_server',
  'trace_id',
] as const satisfies ReadonlyArray<keyof Vital>;

const copyText = (value: unknown): string => {
  if (value === undefined || value === null) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return String(value).replace(/[\\\t\n\r]/g, (c) =>
    c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\\\',
  );
};

/** COPY text format, built as the run goes, so COPY pays for turning vitals into bytes as the writer does. */
function* copyLines(vitals: readonly Vital[]): Generator<string> {
  for (let i = 0; i < vitals.length; i += 1000) {
    let chunk = '';
    for (const vital of vitals.slice(i, i + 1000)) {
      chunk += `${COLUMNS.map((c) => (c === 'ts' ? new Date(vital.ts).toISOString() : copyText(vital[c]))).join('\t')}\n`;
    }
    yield chunk;
  }
}

async function copyInto(client: pg.PoolClient, table: string, vitals: readonly Vital[]): Promise<void> {
  await pipeline(
    Readable.from(copyLines(vitals)),
    client.query(copyFrom(`copy ${table} (${COLUMNS.join(', ')}) from stdin`)),
  );
}

const schema = `immune_bench_${randomBytes(4).toString('hex')}`;
const store = await openStore({ databaseUrl: DATABASE_URL, schema, maxConnections: 8 });
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4, options: `-c search_path=${schema}` });

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function truncate(): Promise<void> {
  await sql`truncate vitals, vitals_copy`.execute(store.db);
}

async function runWriter(batchSize: number, concurrency: number): Promise<number> {
  await truncate();
  const writer = new VitalsWriter(store.db, { batchSize, concurrency });
  const began = performance.now();
  let outstanding = 0;
  let wake: (() => void) | undefined;
  const acked = () => {
    outstanding--;
    if (wake !== undefined && outstanding < WINDOW) {
      const resume = wake;
      wake = undefined;
      resume();
    }
  };
  for (const vital of rows) {
    if (outstanding >= WINDOW) await new Promise<void>((resume) => (wake = resume));
    outstanding++;
    writer.add(vital).then(acked, (error: unknown) => {
      throw error;
    });
  }
  await writer.close();
  const elapsed = performance.now() - began;
  const stored = await sql<{ n: number }>`select count(*)::int as n from vitals`.execute(store.db);
  if (stored.rows[0]!.n !== ROWS) throw new Error(`writer stored ${stored.rows[0]!.n} of ${ROWS}`);
  return perSecond(ROWS, elapsed);
}

async function runCopy(): Promise<number> {
  await truncate();
  const client = await pool.connect();
  try {
    const began = performance.now();
    await copyInto(client, 'vitals_copy', rows);
    return perSecond(ROWS, performance.now() - began);
  } finally {
    client.release();
  }
}

/** COPY each batch into a session-local staging table, then INSERT … ON CONFLICT DO NOTHING from it. */
async function runCopyStage(batchSize: number, concurrency: number): Promise<number> {
  await truncate();
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const client = await pool.connect();
      try {
        await client.query(
          'create temp table if not exists vitals_stage (like vitals including defaults) on commit delete rows',
        );
        while (next < rows.length) {
          const batch = rows.slice(next, next + batchSize);
          next += batchSize;
          await client.query('begin');
          await copyInto(client, 'vitals_stage', batch);
          await client.query('insert into vitals select * from vitals_stage on conflict (id, ts) do nothing');
          await client.query('commit');
        }
      } finally {
        client.release();
      }
    }),
  );
  return perSecond(ROWS, performance.now() - began);
}

interface Measured {
  batch_size: number;
  concurrency: number;
  vitals_per_s: number;
  /** Median over rounds of (this run / the COPY run right before it): steadier than a ratio of medians. */
  ratio_to_copy: number;
}

try {
  await sql`create table vitals_copy (like vitals including all)`.execute(store.db);
  const configs = [
    ...BATCH_SIZES.flatMap((batchSize) =>
      CONCURRENCIES.map((concurrency) => ({ strategy: 'writer', batchSize, concurrency })),
    ),
    { strategy: 'copy-staging', batchSize: 1000, concurrency: 2 },
    { strategy: 'copy-staging', batchSize: 2000, concurrency: 2 },
  ] as const;
  const speeds = new Map<string, number[]>();
  const ratios = new Map<string, number[]>();
  const copies: number[] = [];
  const push = (map: Map<string, number[]>, key: string, value: number) =>
    map.set(key, [...(map.get(key) ?? []), value]);
  const keyOf = (c: (typeof configs)[number]) => `${c.strategy} ${c.batchSize} ${c.concurrency}`;

  // One unmeasured pass warms the JIT, the pool and the server's caches.
  await runWriter(DEFAULT_WRITER_BATCH_SIZE, DEFAULT_WRITER_CONCURRENCY);
  for (let round = 0; round < ROUNDS; round++) {
    for (const config of configs) {
      // Each run is paired with a COPY just before it, so a burst of load on a shared machine hits both.
      const copy = await runCopy();
      copies.push(copy);
      const speed =
        config.strategy === 'writer'
          ? await runWriter(config.batchSize, config.concurrency)
          : await runCopyStage(config.batchSize, config.concurrency);
      push(speeds, keyOf(config), speed);
      push(ratios, keyOf(config), speed / copy);
    }
  }

  const measured = (config: (typeof configs)[number]): Measured => ({
    batch_size: config.batchSize,
    concurrency: config.concurrency,
    vitals_per_s: median(speeds.get(keyOf(config))!),
    ratio_to_copy: Number(median(ratios.get(keyOf(config))!).toFixed(3)),
  });
  const writer = configs.filter((c) => c.strategy === 'writer').map(measured);
  const staging = configs.filter((c) => c.strategy === 'copy-staging').map(measured);
  const best = writer.reduce((a, b) => (b.ratio_to_copy > a.ratio_to_copy ? b : a));
  const chosen = writer.find(
    (w) => w.batch_size === DEFAULT_WRITER_BATCH_SIZE && w.concurrency === DEFAULT_WRITER_CONCURRENCY,
  )!;
  const copy = median(copies);
  const result = {
    bench: 'store.writer',
    rows: ROWS,
    rounds: ROUNDS,
    window: WINDOW,
    copy_vitals_per_s: copy,
    default: chosen,
    best,
    writer,
    copy_staging: staging,
  };
  console.log(JSON.stringify(result, null, 2));
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(
    `writer (default: batch ${chosen.batch_size}, concurrency ${chosen.concurrency}): ${fmt(chosen.vitals_per_s)} vitals/s,` +
      ` ${Math.round(chosen.ratio_to_copy * 100)}% of raw COPY (${fmt(copy)}/s); best batch ${best.batch_size} x` +
      ` ${best.concurrency} at ${fmt(best.vitals_per_s)}/s (${Math.round(best.ratio_to_copy * 100)}%);` +
      ` medians of ${ROUNDS} rounds of ${fmt(ROWS)} vitals`,
  );
} finally {
  await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
  await store.close();
  await pool.end();
}
