import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Bus, connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { createLogger } from '@immune/runtime';
import { type Db, openStore } from '@immune/store';
import {
  createTestStore,
  randomSchemaName,
  resolveTestDatabaseUrl,
  TempPostgres,
  type TestStore,
} from '@immune/store/testing';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { Recorder } from '../src/recorder.js';
import { type AppHarness, reported, startApp } from './harness.js';

const logger = createLogger({ service: 'recording-test', level: 'silent', format: 'json' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

let seq = 0;
function busVital(agentId: string): Vital {
  seq++;
  return {
    id: `bv-${process.pid}-${Date.now()}-${seq}`,
    agent_id: agentId,
    ts: Date.now(),
    source: 'gateway',
    kind: 'llm',
    latency_ms: 50 + (seq % 17),
    input_tokens: 100,
    output_tokens: 20,
    total_tokens: 120,
    tool_calls: 0,
    retries: 0,
    cost: 0.001,
    success: true,
  };
}

async function rows(db: Db): Promise<{ total: number; distinct: number }> {
  const {
    rows: [row],
  } = await sql<{ total: number; distinct: number }>`
    select count(*)::int as total, count(distinct id)::int as distinct from vitals`.execute(db);
  return row!;
}

async function storedIds(db: Db): Promise<Set<string>> {
  const result = await sql<{ id: string }>`select id from vitals`.execute(db);
  return new Set(result.rows.map((row) => row.id));
}

async function natsBus(): Promise<{ bus: Bus; prefix: string; url: string }> {
  const url = await natsUrlForTests();
  const prefix = uniquePrefix('rec');
  const bus = await connectNatsBus({ url, prefix, name: 'recording-test' });
  cleanups.push(async () => {
    await bus.drain();
    await removeTopology(url, prefix);
  });
  return { bus, prefix, url };
}

async function testStore(): Promise<TestStore> {
  const store = await createTestStore({ logger });
  cleanups.push(() => store.cleanup());
  return store;
}

/** Posts vitals to ingest over HTTP in batches; returns their ids. */
async function ingest(app: AppHarness, vitals: Array<Record<string, unknown>>, batch = 50): Promise<void> {
  for (let i = 0; i < vitals.length; i += batch) {
    const response = await fetch(`${app.url}/api/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vitals: vitals.slice(i, i + batch) }),
    });
    if (response.status !== 202)
      throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
  }
}

const agents = Array.from({ length: 12 }, (_, i) => `rec-agent.${i}`);
const agentOf = (i: number) => agents[i % agents.length]!;

describe('recorder on NATS + PostgreSQL', () => {
  it('N vitals from ingest calls and bus publishes give exactly N rows, redeliveries and retries included', async () => {
    const { bus } = await natsBus();
    const store = await testStore();
    const app = await startApp({ bus, store, listen: true });
    cleanups.push(() => app.close());
    const recorder = new Recorder({ bus, db: store.db, logger, batchSize: 100, flushIntervalMs: 50 });
    await recorder.start();
    cleanups.push(() => recorder.stopWork());

    const viaHttp = Array.from({ length: 1000 }, (_, i) => reported(agentOf(i)));
    const viaBus = Array.from({ length: 1000 }, (_, i) => busVital(agentOf(i + 5)));
    await Promise.all([
      ingest(app, viaHttp),
      (async () => {
        for (const vital of viaBus) await bus.publishVital(vital);
      })(),
    ]);
    // A client retrying a batch it already sent, and a source re-publishing: neither adds a row.
    await ingest(app, viaHttp.slice(0, 50));
    for (const vital of viaBus.slice(0, 50)) await bus.publishVital(vital);

    const expected = new Set([...viaHttp.map((v) => v.id as string), ...viaBus.map((v) => v.id)]);
    await eventually(
      async () => expect(await rows(store.db)).toEqual({ total: 2000, distinct: 2000 }),
      60_000,
    );
    expect(await storedIds(store.db)).toEqual(expected);
    // Every agent is in the agents table, whether it came through ingest or only over the bus.
    const { rows: registered } = await sql<{ id: string }>`select id from agents`.execute(store.db);
    expect(new Set(registered.map((r) => r.id))).toEqual(new Set(agents));
    await eventually(async () => expect(await recorder.lag()).toEqual({ pending: 0, ackPending: 0 }), 10_000);
  }, 120_000);

  it('still gives exactly N rows when the recorder is SIGKILLed mid-batch and restarted', async () => {
    const { bus, prefix, url } = await natsBus();
    const store = await testStore();
    const databaseUrl = await resolveTestDatabaseUrl();
    const child = () =>
      startChild({
        NATS_URL: url,
        TEST_PREFIX: prefix,
        DATABASE_URL: databaseUrl,
        TEST_SCHEMA: store.schema!,
      });

    const first = await child();
    const total = 4000;
    const vitals = Array.from({ length: total }, (_, i) => busVital(agentOf(i)));
    let published = 0;
    const publishing = (async () => {
      for (const vital of vitals) {
        await bus.publishVital(vital);
        published++;
      }
    })();
    // Mid-batch: rows are being written and vitals are delivered but not yet committed (unacked).
    await eventually(
      async () => {
        expect((await rows(store.db)).total).toBeGreaterThan(0);
        expect((await bus.vitalsLag('recorder')).ackPending).toBeGreaterThan(0);
      },
      60_000,
      5,
    );
    first.kill('SIGKILL');
    await once(first, 'exit');
    const atKill = (await rows(store.db)).total;
    expect(atKill).toBeLessThan(total);

    const second = await child();
    await publishing;
    expect(published).toBe(total);
    await eventually(async () => expect(await rows(store.db)).toEqual({ total, distinct: total }), 90_000);
    expect(await storedIds(store.db)).toEqual(new Set(vitals.map((v) => v.id)));
    second.kill('SIGTERM');
    await once(second, 'exit');
  }, 180_000);

  it('still gives exactly N rows when PostgreSQL is stopped for a few seconds mid-stream', async () => {
    const { bus } = await natsBus();
    const pg = await TempPostgres.start();
    cleanups.push(() => pg.destroy());
    const schema = randomSchemaName();
    const opened = await openStore({ databaseUrl: pg.url, schema, logger, maxConnections: 8 });
    const store: TestStore = { ...opened, cleanup: () => opened.close() };
    cleanups.push(() => store.close());
    // A long key cache: ingest keeps accepting vitals while the database is away.
    const app = await startApp({ bus, store, listen: true, keyCacheMs: 600_000 });
    cleanups.push(() => app.close());
    const recorder = new Recorder({
      bus,
      db: store.db,
      logger,
      batchSize: 100,
      flushIntervalMs: 50,
      retryDelayMs: 200,
      probeIntervalMs: 100,
    });
    await recorder.start();
    cleanups.push(() => recorder.stopWork());

    const before = Array.from({ length: 500 }, (_, i) => reported(agentOf(i)));
    const during = Array.from({ length: 1000 }, (_, i) => busVital(agentOf(i)));
    const duringHttp = Array.from({ length: 500 }, (_, i) => reported(agentOf(i + 3)));
    await ingest(app, before);
    await eventually(async () => expect((await rows(store.db)).total).toBeGreaterThan(0), 30_000);

    await pg.stop();
    const publishing = (async () => {
      for (const vital of during) await bus.publishVital(vital);
    })();
    await ingest(app, duringHttp);
    await eventually(() => expect(recorder.databaseUp).toBe(false), 30_000);
    await publishing;
    // The backlog waits in JetStream while the database is down.
    await eventually(async () => {
      const lag = await recorder.lag();
      expect(lag.pending + lag.ackPending).toBeGreaterThan(0);
    }, 10_000);
    await pg.resume();

    const expected = [...before, ...duringHttp].map((v) => v.id as string).concat(during.map((v) => v.id));
    await eventually(
      async () => expect(await rows(store.db)).toEqual({ total: 2000, distinct: 2000 }),
      90_000,
    );
    expect(await storedIds(store.db)).toEqual(new Set(expected));
    expect(recorder.databaseUp).toBe(true);
    expect(recorder.stats.dropped).toBe(0);
  }, 180_000);
});

const CHILD = fileURLToPath(new URL('./fixtures/recorder-child.ts', import.meta.url));

async function startChild(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      ...env,
      TEST_BATCH: '200',
      TEST_FLUSH_MS: '100',
      // Short, so vitals the killed recorder held come back soon.
      TEST_ACK_WAIT_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`recorder child exited early with ${code}`)));
  });
  return child;
}
