// Ingest throughput on the real thing: NATS (NATS_URL, default nats://127.0.0.1:4222) and PostgreSQL
// (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), each run in a throwaway prefix and schema.
//
//   1. baseline: the store's VitalsWriter alone, straight into PostgreSQL (what the recorder can at best reach);
//   2. HTTP: vitals/s accepted by POST /api/v1/ingest (batches, concurrent clients), recorder off;
//   3. drain: the recorder working off the backlog phase 2 left in JetStream;
//   4. end to end: HTTP and recorder together, from the first request until the last row is committed.
//
// Figures go to stdout as JSON plus one summary line. Client, server, NATS and PostgreSQL share the machine,
// so compare the ratios of one run, not absolute numbers across machines.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Bus, connectNatsBus } from '@immune/bus';
import { removeTopology } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { createHttpServer, createLogger, createPrometheusMetrics, Readiness } from '@immune/runtime';
import { ApiKeyRepository, openStore, type Store, VitalsWriter } from '@immune/store';
import { sql } from 'kysely';
import { AgentDirectory } from '../src/agent-directory.js';
import { ApiKeyVerifier } from '../src/api-keys.js';
import { ingestApp } from '../src/app.js';
import { Recorder } from '../src/recorder.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOTAL = Number(process.env.BENCH_VITALS ?? 60_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const AGENTS = 200;

const logger = createLogger({ service: 'ingest-bench', level: 'warn', format: 'json' });
const run = process.env.BENCH_CLIENT_RUN ?? randomBytes(4).toString('hex');
let seq = 0;

function reported(): Record<string, unknown> {
  seq++;
  return {
    id: `bench-${run}-${seq}`,
    agent_id: `bench-agent-${seq % AGENTS}`,
    ts: Date.now(),
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: 200 + (seq % 300),
    input_tokens: 1000 + (seq % 97),
    output_tokens: 200 + (seq % 53),
    cost: 0.0004,
    success: true,
    prompt_hash: 'a'.repeat(64),
  };
}

function vital(): Vital {
  const r = reported();
  return {
    ...(r as Omit<Vital, 'source' | 'total_tokens' | 'tool_calls' | 'retries'>),
    source: 'gateway',
    total_tokens: (r.input_tokens as number) + (r.output_tokens as number),
    tool_calls: 0,
    retries: 0,
  } as Vital;
}

/** CPU seconds (user + system) this process has used: client and server together, all on one thread. */
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

async function rowCount(store: Store): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from vitals`.execute(store.db);
  return rows[0]!.n;
}

async function waitForRows(store: Store, n: number): Promise<void> {
  while ((await rowCount(store)) < n) await new Promise((resolve) => setTimeout(resolve, 25));
}

async function baseline(store: Store): Promise<number> {
  const writer = new VitalsWriter(store.db);
  const vitals = Array.from({ length: TOTAL }, vital);
  const started = performance.now();
  await writer.addMany(vitals);
  const seconds = (performance.now() - started) / 1000;
  await writer.close();
  await sql`truncate vitals`.execute(store.db);
  return TOTAL / seconds;
}

async function startServer(bus: Bus, store: Store) {
  const { key } = await new ApiKeyRepository(store.db).create({ name: 'bench' });
  const metrics = createPrometheusMetrics({ serviceName: 'ingest-bench' });
  const server = createHttpServer({ logger, readiness: new Readiness(), metrics });
  await server.register(ingestApp, {
    bus,
    keys: new ApiKeyVerifier(store.db, { cacheMs: 10_000 }),
    agents: new AgentDirectory(store.db),
    limits: { maxBatch: 1000, maxFutureMs: 300_000 },
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/api/v1/ingest`;
  return { key, url, close: () => server.close() };
}

/** Posts TOTAL vitals in BATCH-sized requests from CLIENTS concurrent clients; resolves with the seconds taken. */
async function post(url: string, key: string): Promise<number> {
  const bodies: string[] = [];
  for (let sent = 0; sent < TOTAL; sent += BATCH) {
    bodies.push(JSON.stringify({ vitals: Array.from({ length: Math.min(BATCH, TOTAL - sent) }, reported) }));
  }
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        });
        if (response.status !== 202)
          throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const prefix = `bench_${run}`;
  const bus = await connectNatsBus({ url: NATS_URL, prefix, name: 'ingest-bench' });
  const store = await openStore({
    databaseUrl: DATABASE_URL,
    schema: `ingest_bench_${run}`,
    logger,
    maxConnections: 12,
  });
  try {
    const writerPerSecond = await baseline(store);

    const server = await startServer(bus, store);
    // CPU time as well as wall time: on a shared, loaded machine wall time mostly measures the neighbours,
    // while vitals per CPU-second of this process (the ingest server alone: the clients run in a child
    // process) is what one core sustains when it has the core to itself. NATS is not counted.
    const httpCpuStarted = cpuSeconds();
    const httpSeconds = await postFromChild(server.url, server.key);
    const httpCpuSeconds = cpuSeconds() - httpCpuStarted;
    const httpPerSecond = TOTAL / httpSeconds;

    // The backlog phase 2 left in the stream, worked off by the recorder.
    const recorder = new Recorder({ bus, db: store.db, logger });
    const drainStarted = performance.now();
    await recorder.start();
    await waitForRows(store, TOTAL);
    const drainPerSecond = TOTAL / ((performance.now() - drainStarted) / 1000);

    // End to end: requests and recording at the same time, until the last row is committed.
    await sql`truncate vitals`.execute(store.db);
    const e2eStarted = performance.now();
    const e2eHttpSeconds = await postFromChild(server.url, server.key);
    await waitForRows(store, TOTAL);
    const e2eSeconds = (performance.now() - e2eStarted) / 1000;
    await recorder.stopWork();
    await server.close();

    const result = {
      vitals: TOTAL,
      batch: BATCH,
      clients: CLIENTS,
      writer_baseline_per_s: Math.round(writerPerSecond),
      http_accepted_per_s: Math.round(httpPerSecond),
      http_accepted_per_cpu_s: Math.round(TOTAL / httpCpuSeconds),
      http_cpu_share: Number((httpCpuSeconds / httpSeconds).toFixed(2)),
      load_average: loadAverage(),
      recorder_drain_per_s: Math.round(drainPerSecond),
      e2e_http_accepted_per_s: Math.round(TOTAL / e2eHttpSeconds),
      e2e_recorded_per_s: Math.round(TOTAL / e2eSeconds),
      e2e_vs_writer: Number((TOTAL / e2eSeconds / writerPerSecond).toFixed(2)),
      drain_vs_writer: Number((drainPerSecond / writerPerSecond).toFixed(2)),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `ingest: HTTP accepts ${result.http_accepted_per_s}/s (${result.http_accepted_per_cpu_s} per CPU-second of ` +
        `the server; batches of ${BATCH}, ${CLIENTS} clients, load ${result.load_average}); ` +
        `recorder drains ${result.recorder_drain_per_s}/s; end to end ${result.e2e_recorded_per_s}/s recorded ` +
        `(${Math.round(result.e2e_vs_writer * 100)} % of the raw writer's ${result.writer_baseline_per_s}/s)\n`,
    );
  } finally {
    await bus.drain();
    await removeTopology(NATS_URL, prefix);
    await sql`drop schema if exists ${sql.id(`ingest_bench_${run}`)} cascade`.execute(store.db);
    await store.close();
  }
}

/**
 * The HTTP clients run in a child process, so that this process's CPU time during the HTTP phase is the
 * ingest server's alone (Node 20 has no per-thread CPU clock, so a worker thread would not separate them).
 */
async function postFromChild(url: string, key: string): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      BENCH_CLIENT_URL: url,
      BENCH_CLIENT_KEY: key,
      BENCH_CLIENT_RUN: `${run}-${seq++}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bench client exited with ${code}: ${out}`);
  return (JSON.parse(out.trim().split('\n').pop()!) as { seconds: number }).seconds;
}

if (process.env.BENCH_CLIENT_URL !== undefined) {
  const seconds = await post(process.env.BENCH_CLIENT_URL, process.env.BENCH_CLIENT_KEY ?? '');
  process.stdout.write(`${JSON.stringify({ seconds })}\n`);
} else {
  await main();
}
