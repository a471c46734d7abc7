import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { ReportedVital } from '@immune/ingest';
import { MAX_VITAL_TS } from '@immune/store';
import { createTestStore, resolveTestDatabaseUrl, type TestStore } from '@immune/store/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The Python SDK (sdks/python, standard library only) is tested with `python3 -m unittest` against the real
// ingest service: its own main.ts, on real NATS and PostgreSQL, in a subject prefix and schema of its own.
const PYTHON = process.env.PYTHON ?? 'python3';
const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));
const INGEST_MAIN = fileURLToPath(new URL('../../../apps/ingest/src/main.ts', import.meta.url));
const TSX = new URL('../../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const MAX_BATCH = 50;
const run = promisify(execFile);

interface Ingest {
  child: ChildProcess;
  url: string;
  key: string;
  output: () => string;
}

let store: TestStore;
let natsUrl: string;
let prefix: string;
let ingest: Ingest;
let workDir: string;

beforeAll(async () => {
  natsUrl = await natsUrlForTests();
  prefix = uniquePrefix('py');
  store = await createTestStore();
  workDir = await mkdtemp(join(tmpdir(), 'immune-py-sdk-'));
  ingest = await startIngest(await resolveTestDatabaseUrl(), store.schema!);
}, 120_000);

afterAll(async () => {
  if (ingest !== undefined && ingest.child.exitCode === null) {
    ingest.child.kill('SIGTERM');
    await once(ingest.child, 'exit');
  }
  if (natsUrl !== undefined) await removeTopology(natsUrl, prefix);
  await store?.cleanup();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
}, 60_000);

async function startIngest(databaseUrl: string, schema: string): Promise<Ingest> {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema},public`);
  const key = `imk_pytest_${prefix}`;
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', TSX, INGEST_MAIN], {
    cwd: workDir,
    env: {
      PATH: process.env.PATH,
      NATS_URL: natsUrl,
      DATABASE_URL: url.href,
      IMMUNE_SUBJECT_PREFIX: prefix,
      INGEST_API_KEY: key,
      INGEST_PORT: '0',
      INGEST_MAX_BATCH: String(MAX_BATCH),
      INGEST_RECORDER_FLUSH_MS: '50',
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  let port = 0;
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`ingest exited ${child.exitCode}:\n${output}`);
      const match = /"event":"http-listening".*?"port":(\d+)/.exec(output);
      expect(match, 'ingest is listening').not.toBeNull();
      port = Number(match![1]);
    },
    90_000,
    100,
  );
  const origin = `http://127.0.0.1:${port}`;
  await eventually(async () => expect((await fetch(`${origin}/readyz`)).status).toBe(200), 30_000);
  return { child, url: origin, key, output: () => output };
}

describe('the Python SDK', () => {
  it('passes its unittest suite against the real ingest, and every vital it sent is a row exactly once', async () => {
    const manifest = join(workDir, 'manifest.jsonl');
    const result = await run(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], {
      cwd: SDK_DIR,
      env: {
        ...process.env,
        PYTHONPATH: join(SDK_DIR, 'src'),
        PYTHONDONTWRITEBYTECODE: '1',
        IMMUNE_INGEST_URL: ingest.url,
        IMMUNE_API_KEY: ingest.key,
        IMMUNE_INGEST_MAX_BATCH: String(MAX_BATCH),
        IMMUNE_TEST_MANIFEST: manifest,
      },
      timeout: 300_000,
    }).catch((error: { stdout?: string; stderr?: string; code?: number }) => {
      throw new Error(
        `python3 -m unittest failed (exit ${error.code}):\n${error.stderr ?? ''}${error.stdout ?? ''}\n` +
          `ingest's output:\n${ingest.output().slice(-4000)}`,
      );
    });
    expect(result.stderr).toMatch(/^OK/m);
    expect(Number(/^Ran (\d+) tests/m.exec(result.stderr)?.[1])).toBeGreaterThanOrEqual(20);

    const expectations = (await readFile(manifest, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { agent_id: string; present: string[]; absent: string[] });
    expect(expectations.length).toBeGreaterThanOrEqual(7);
    const present = expectations.flatMap((e) => e.present.map((id) => ({ id, agent: e.agent_id })));
    const absent = expectations.flatMap((e) => e.absent);
    await eventually(async () => {
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from vitals where id = any(${sql.val(present.map((p) => p.id))})`.execute(
        store.db,
      );
      expect(rows[0]!.n).toBe(present.length);
    }, 60_000);
    const { rows } = await sql<{ id: string; agent_id: string; source: string }>`
      select id, agent_id, source from vitals where id = any(${sql.val([...present.map((p) => p.id), ...absent])})
    `.execute(store.db);
    expect(rows.length).toBe(present.length);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const { id, agent } of present)
      expect(byId.get(id)).toMatchObject({ agent_id: agent, source: 'ingest' });
    for (const id of absent) expect(byId.has(id)).toBe(false);
  }, 400_000);

  it("checks vitals by the same rules as ingest's schema", async () => {
    const { stdout } = await run(
      PYTHON,
      ['-c', 'import json, immune_sdk.vital as v; print(json.dumps(v.describe()))'],
      {
        env: { ...process.env, PYTHONPATH: join(SDK_DIR, 'src') },
      },
    );
    const python = JSON.parse(stdout) as {
      kinds: string[];
      text: Record<string, number>;
      counts: string[];
      amounts: string[];
      required: string[];
      int_max: number;
      amount_max: number;
      max_ts: number;
      fields: string[];
    };
    const properties = ReportedVital.properties as Record<
      string,
      { type?: string; maxLength?: number; maximum?: number; anyOf?: Array<{ const: string }> }
    >;
    expect(python.fields).toEqual(Object.keys(properties).sort());
    const text = Object.fromEntries(
      Object.entries(properties)
        .filter(([, schema]) => schema.type === 'string')
        .map(([name, schema]) => [name, schema.maxLength]),
    );
    expect(python.text).toEqual(text);
    const ofType = (type: string) =>
      Object.keys(properties)
        .filter((name) => properties[name]!.type === type)
        .sort();
    expect([...python.counts].sort()).toEqual(ofType('integer').filter((name) => name !== 'ts'));
    expect([...python.amounts].sort()).toEqual(ofType('number'));
    for (const name of python.counts) expect(properties[name]!.maximum).toBe(python.int_max);
    for (const name of python.amounts) expect(properties[name]!.maximum).toBe(python.amount_max);
    expect(python.max_ts).toBe(MAX_VITAL_TS);
    expect(properties.kind!.anyOf!.map((member) => member.const)).toEqual(python.kinds);
    // What ingest requires beyond the reporter's defaults is a subset of what the Python side always sends.
    for (const name of ReportedVital.required as string[]) expect(python.required).toContain(name);
  });
});
