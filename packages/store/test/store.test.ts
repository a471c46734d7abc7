import { recordFeedback, summarizeMemory } from '@immune/core';
import fc from 'fast-check';
import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRepositories,
  dayOf,
  dropVitalsPartitionsBefore,
  hashApiKey,
  MAX_VITAL_TS,
  MIGRATIONS,
  migrateToLatest,
  migrationProvider,
  partitionName,
  type Repositories,
  startVitalsRetention,
  UnstorableVitalError,
  VitalsWriter,
  vitalsPartitionDays,
  WriterClosedError,
} from '../src/index.js';
import { createPGliteTestStore, createTestStore, type TestStore } from '../src/testing.js';
import { arbitraryVital, infectionReport, vital, vitals } from './fixtures.js';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

/** Holds the vitals table so writes queue up behind it, until `release` is called. */
async function blockVitals(store: TestStore): Promise<{ release: () => Promise<void> }> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = store.db.transaction().execute(async (trx) => {
    await sql`lock table vitals in access exclusive mode`.execute(trx);
    locked();
    await gate;
  });
  await isLocked;
  return {
    release: async () => {
      open();
      await holder;
    },
  };
}

const until = async (condition: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const drivers = [
  { driver: 'postgres', create: createTestStore },
  { driver: 'pglite', create: createPGliteTestStore },
] as const;

describe.each(drivers)('store on $driver', { timeout: 60_000 }, ({ driver, create }) => {
  let store: TestStore;
  let repos: Repositories;

  beforeEach(async () => {
    store = await create();
    repos = createRepositories(store.db);
  }, 120_000);

  afterEach(async () => {
    await store?.cleanup();
  });

  describe('migrations', () => {
    it('creates every table in the store schema, and applying again changes nothing', async () => {
      expect(store.driver).toBe(driver);
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = ${store.schema!}
        order by table_name`.execute(store.db);
      expect(tables.rows.map((row) => row.table_name)).toEqual(
        expect.arrayContaining([
          'agents',
          'api_keys',
          'approvals',
          'baselines',
          'feedback',
          'healing_actions',
          'immune_memory',
          'infections',
          'lifecycle_events',
          'sentinel_agents',
          'sigma_buckets',
          'vitals',
        ]),
      );
      const again = await migrateToLatest(store.db, { schema: store.schema! });
      expect(again.results).toEqual([]);
    });

    it('applies once on an empty schema and is a no-op the second time', async () => {
      const bare = await create({ migrate: false });
      try {
        const first = await migrateToLatest(bare.db, { schema: bare.schema! });
        expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual(
          Object.keys(MIGRATIONS).map((name) => [name, 'Success']),
        );
        const second = await migrateToLatest(bare.db, { schema: bare.schema! });
        expect(second.results).toEqual([]);
      } finally {
        await bare.cleanup();
      }
    });

    it('converts a plain vitals table of an existing database into daily partitions, rows and key kept', async () => {
      const bare = await create({ migrate: false });
      try {
        const migrator = new Migrator({
          db: bare.db,
          provider: migrationProvider,
          migrationTableSchema: bare.schema!,
        });
        const before = await migrator.migrateTo('0002-sentinel-agents');
        expect(before.error).toBeUndefined();
        // What a database made by the previous release holds: rows over several days in the plain table.
        const old = [
          vital({ agent_id: 'a', ts: T0 }),
          vital({ agent_id: 'a', ts: T0 + 1000 }),
          vital({ agent_id: 'b', ts: T0 + 2 * DAY }),
          vital({ agent_id: 'a', ts: T0 + 5 * DAY }),
        ];
        await createRepositories(bare.db).vitals.insertMany(old);

        await migrateToLatest(bare.db, { schema: bare.schema! });
        const timescale = await sql<{ one: number }>`
          select 1 as one from pg_extension where extname = 'timescaledb'`.execute(bare.db);
        if (timescale.rows.length > 0) return; // left plain for the hypertable step
        const kind = await sql<{ relkind: string }>`
          select relkind::text as relkind from pg_class
          where relname = 'vitals' and relnamespace = ${bare.schema!}::regnamespace`.execute(bare.db);
        expect(kind.rows[0]?.relkind).toBe('p');
        expect(await vitalsPartitionDays(bare.db)).toEqual([
          dayOf(T0),
          dayOf(T0 + 2 * DAY),
          dayOf(T0 + 5 * DAY),
        ]);
        const after = createRepositories(bare.db).vitals;
        expect(await after.between({ from: 0, to: MAX_VITAL_TS })).toEqual(old);
        expect(await after.insertMany(old)).toBe(0); // the (ts, id) key came along
        const leftovers = await sql<{ relname: string }>`
          select relname from pg_class
          where relname like 'vitals_unpartitioned%' and relnamespace = ${bare.schema!}::regnamespace`.execute(
          bare.db,
        );
        expect(leftovers.rows).toEqual([]);

        // And back: down restores a plain table with the same rows.
        const down = await migrator.migrateDown();
        expect(down.error).toBeUndefined();
        expect(await createRepositories(bare.db).vitals.between({ from: 0, to: MAX_VITAL_TS })).toEqual(old);
      } finally {
        await bare.cleanup();
      }
    });

    it('uses TimescaleDB exactly when the server offers it', async () => {
      const offered = await sql<{ one: number }>`
        select 1 as one from pg_available_extensions where name = 'timescaledb'`.execute(store.db);
      expect(store.timescale).toBe(driver === 'postgres' && offered.rows.length > 0);
    });
  });

  describe('agents', () => {
    it('registers, then updates only the fields given', async () => {
      const first = await repos.agents.register({
        id: 'agent-a',
        ts: T0,
        name: 'Agent A',
        tags: ['billing', 'prod'],
        mcp_servers: ['files'],
        control_url: 'http://127.0.0.1:9000/control',
        pid: 4242,
        metadata: { team: 'payments' },
      });
      expect(first.created).toBe(true);
      expect(first.agent).toEqual({
        id: 'agent-a',
        name: 'Agent A',
        model: null,
        tags: ['billing', 'prod'],
        mcp_servers: ['files'],
        control_url: 'http://127.0.0.1:9000/control',
        pid: 4242,
        state: 'INITIALIZING',
        first_seen: T0,
        last_seen: T0,
        metadata: { team: 'payments' },
      });
      const second = await repos.agents.register({ id: 'agent-a', ts: T0 + 5000, model: 'gpt-4o' });
      expect(second.created).toBe(false);
      expect(second.agent).toMatchObject({ name: 'Agent A', model: 'gpt-4o', tags: ['billing', 'prod'] });
      expect(second.agent.last_seen).toBe(T0 + 5000);
      expect(second.agent.first_seen).toBe(T0);
    });

    it('discovers agents from traffic once, and last_seen never moves back', async () => {
      expect(await repos.agents.seen('agent-a', T0)).toBe(true);
      expect(await repos.agents.seen('agent-a', T0 + 10)).toBe(false);
      const discovered = await repos.agents.seenMany([
        ['agent-a', T0 - 1000],
        ['agent-b', T0 + 1],
        ['agent-b', T0 + 3],
        ['agent-c', T0],
      ]);
      expect(discovered.sort()).toEqual(['agent-b', 'agent-c']);
      expect((await repos.agents.get('agent-a'))?.last_seen).toBe(T0 + 10);
      expect((await repos.agents.get('agent-b'))?.last_seen).toBe(T0 + 3);
      expect(await repos.agents.seenMany([])).toEqual([]);
    });

    it('lists, counts by state, sets state and removes', async () => {
      await repos.agents.seenMany([
        ['a1', T0],
        ['a2', T0],
        ['a3', T0],
      ]);
      expect(await repos.agents.setState('a2', 'QUARANTINED')).toBe(true);
      expect(await repos.agents.setState('nobody', 'HEALTHY')).toBe(false);
      expect((await repos.agents.list({ state: 'QUARANTINED' })).map((a) => a.id)).toEqual(['a2']);
      expect((await repos.agents.list({ limit: 2, offset: 1 })).map((a) => a.id)).toEqual(['a2', 'a3']);
      expect(await repos.agents.countByState()).toEqual({ INITIALIZING: 2, QUARANTINED: 1 });
      expect(await repos.agents.remove('a1')).toBe(true);
      expect(await repos.agents.get('a1')).toBeUndefined();
    });
  });

  describe('api keys', () => {
    it('stores only the SHA-256 of a key, verifies it, and stops accepting it once revoked', async () => {
      const { key, apiKey } = await repos.apiKeys.create({ name: 'ci', now: T0 });
      expect(key).toMatch(/^imk_[A-Za-z0-9_-]{43}$/);
      expect(apiKey).toEqual({
        id: apiKey.id,
        name: 'ci',
        prefix: key.slice(0, 12),
        created_at: T0,
        last_used_at: null,
        revoked_at: null,
      });

      const rows = await sql<Record<string, unknown>>`select * from api_keys`.execute(store.db);
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0]!.key_hash).toBe(hashApiKey(key));
      expect(JSON.stringify(rows.rows)).not.toContain(key);

      expect(await repos.apiKeys.verify(`${key}x`, T0)).toBeUndefined();
      expect((await repos.apiKeys.verify(key, T0 + 1000))?.last_used_at).toBe(T0 + 1000);
      // Within a minute the key is not rewritten on every request.
      expect((await repos.apiKeys.verify(key, T0 + 2000))?.last_used_at).toBe(T0 + 1000);

      expect(await repos.apiKeys.revoke(apiKey.id, T0 + 3000)).toBe(true);
      expect(await repos.apiKeys.revoke(apiKey.id, T0 + 4000)).toBe(false);
      expect(await repos.apiKeys.verify(key, T0 + 5000)).toBeUndefined();
      expect(await repos.apiKeys.list()).toEqual([]);
      expect((await repos.apiKeys.list({ includeRevoked: true }))[0]?.revoked_at).toBe(T0 + 3000);
    });

    it('imports a key chosen elsewhere once, and refuses anything but a hex digest as hash', async () => {
      const key = 'ingest-key-from-the-environment';
      await repos.apiKeys.create({ name: 'env', key });
      expect((await repos.apiKeys.verify(key))?.name).toBe('env');
      await expect(repos.apiKeys.create({ name: 'again', key })).rejects.toThrow();
      await expect(
        sql`insert into api_keys (id, name, key_hash, prefix) values ('x', 'raw', ${key}, 'ingest')`.execute(
          store.db,
        ),
      ).rejects.toThrow();
    });
  });

  describe('vitals', () => {
    it('stores a redelivered vital once', async () => {
      const batch = vitals(3);
      expect(await repos.vitals.insertMany(batch)).toBe(3);
      const extra = vital();
      expect(await repos.vitals.insertMany([...batch, extra, extra])).toBe(1);
      expect(await repos.vitals.count()).toBe(4);
    });

    it('gives back exactly the vital that went in', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(arbitraryVital, { selector: (v) => v.id, maxLength: 20 }),
          async (batch) => {
            await sql`truncate vitals`.execute(store.db);
            await repos.vitals.insertMany(batch);
            const stored = await repos.vitals.between({ from: 0, to: MAX_VITAL_TS });
            const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
            expect([...stored].sort(byId)).toEqual([...batch].sort(byId));
          },
        ),
        { numRuns: 25 },
      );
    });

    it('keeps strings that mean something in array literals as they are', async () => {
      const awkward = ['', 'NULL', 'null', '"', '\\', '{a,b}', ' x ', 'a\nb\tc', 'ü🙂', "it's", '\\"'];
      const batch = awkward.map((text, i) =>
        vital({ id: `awkward-${i}`, tool_name: text, error_type: text }),
      );
      await repos.vitals.insertMany(batch);
      const stored = await repos.vitals.recent('agent-a', { limit: 100 });
      for (const v of batch) expect(stored.find((s) => s.id === v.id)).toEqual(v);
    });

    it('replaces NUL characters, which PostgreSQL text cannot hold, instead of failing the batch', async () => {
      const v = vital({ tool_name: 'bad\u0000name' });
      await repos.vitals.insertMany([v]);
      expect((await repos.vitals.recent(v.agent_id))[0]?.tool_name).toBe('bad\uFFFDname');
    });

    it('answers recent, between, count and summarize', async () => {
      const a = Array.from({ length: 5 }, (_, i) =>
        vital({ agent_id: 'a', ts: T0 + i * 1000, latency_ms: 100 * (i + 1), success: i !== 4 }),
      );
      const b = [vital({ agent_id: 'b', ts: T0 + 500, total_tokens: 10, cost: 0.5, retries: 2 })];
      await repos.vitals.insertMany([...a, ...b]);

      expect((await repos.vitals.recent('a', { limit: 2 })).map((v) => v.ts)).toEqual([T0 + 4000, T0 + 3000]);
      expect((await repos.vitals.recent('a', { before: T0 + 1000 })).map((v) => v.ts)).toEqual([T0]);
      expect((await repos.vitals.between({ from: T0, to: T0 + 1000 })).map((v) => v.agent_id)).toEqual([
        'a',
        'b',
      ]);
      expect(await repos.vitals.count({ agentId: 'a', since: T0 + 2000 })).toBe(3);

      const summary = await repos.vitals.summarize({ since: T0 });
      expect(summary.map((s) => s.agent_id)).toEqual(['a', 'b']);
      expect(summary[0]).toMatchObject({ count: 5, errors: 1, avg_latency_ms: 300, last_ts: T0 + 4000 });
      expect(summary[0]!.p95_latency_ms).toBeCloseTo(480);
      expect(summary[1]).toMatchObject({ count: 1, total_tokens: 10, cost: 0.5, retries: 2 });
    });

    it('drops whole days older than the cutoff, keeping the day the cutoff falls in', async () => {
      if (store.timescale) return; // the TimescaleDB retention policy drops chunks instead
      const now = T0 + 30 * DAY;
      const old = Array.from({ length: 7 }, (_, i) => vital({ ts: now - 8 * DAY - i * 60_000 }));
      const fresh = Array.from({ length: 3 }, (_, i) => vital({ ts: now - i * 1000 }));
      // The cutoff's own day: older than the cutoff but kept until the whole day is.
      const straddling = vital({ ts: dayOf(now - 7 * DAY) * DAY });
      await repos.vitals.insertMany([...old, ...fresh, straddling]);
      const dropped = await dropVitalsPartitionsBefore(store.db, now - 7 * DAY);
      expect(dropped).toEqual(expect.arrayContaining([partitionName(dayOf(now - 8 * DAY))]));
      expect(dropped).not.toContain(partitionName(dayOf(straddling.ts)));
      expect(await repos.vitals.count()).toBe(4);
      expect(await dropVitalsPartitionsBefore(store.db, now - 7 * DAY)).toEqual([]);
    });

    it('runs retention as a job: partitions ahead, old days dropped', async () => {
      const now = T0 + 30 * DAY;
      await repos.vitals.insertMany([vital({ ts: now - 8 * DAY }), vital({ ts: now - DAY })]);
      const job = startVitalsRetention(store, { now: () => now, intervalMs: 60_000 });
      try {
        const done = await job.runOnce();
        expect(await repos.vitals.count()).toBe(store.timescale ? 2 : 1);
        if (!store.timescale) {
          expect(done.dropped).toContain(partitionName(dayOf(now - 8 * DAY)));
          const days = await vitalsPartitionDays(store.db);
          for (let day = dayOf(now) - 1; day <= dayOf(now) + 3; day++) expect(days).toContain(day);
          expect(days.every((day) => (day + 1) * DAY > now - 7 * DAY)).toBe(true);
        }
      } finally {
        job.stop();
      }
    });

    it('is partitioned by day unless TimescaleDB is in, with partitions from yesterday on made at open', async () => {
      expect(store.vitalsLayout).toBe(store.timescale ? 'hypertable' : 'partitioned');
      if (store.timescale) return;
      const today = dayOf(Date.now());
      expect(await vitalsPartitionDays(store.db)).toEqual(
        expect.arrayContaining([today - 1, today, today + 3]),
      );
    });

    it('creates the partition of a day that has none on the write path, also inside a transaction', async () => {
      const far = vital({ ts: Date.UTC(2031, 4, 6, 12) });
      const farther = vital({ ts: Date.UTC(2032, 0, 1) });
      expect(await repos.vitals.insertMany([far, vital({ ts: Date.now() })])).toBe(2);
      await store.db.transaction().execute((trx) => createRepositories(trx).vitals.insertMany([farther]));
      expect((await repos.vitals.between({ from: far.ts, to: MAX_VITAL_TS })).map((v) => v.id)).toEqual([
        far.id,
        farther.id,
      ]);
      if (!store.timescale) {
        expect(await vitalsPartitionDays(store.db)).toEqual(
          expect.arrayContaining([dayOf(far.ts), dayOf(farther.ts)]),
        );
      }
    });

    it('dedupes by (id, ts): a redelivery is dropped, the same id at another instant is another row', async () => {
      const v = vital({ ts: T0 });
      expect(await repos.vitals.insertMany([v])).toBe(1);
      expect(await repos.vitals.insertMany([v, { ...v }])).toBe(0);
      expect(await repos.vitals.insertMany([{ ...v, ts: T0 + DAY }])).toBe(1);
      expect(await repos.vitals.count()).toBe(2);
    });

    it('creating the same partitions from many callers at once creates each once', async () => {
      if (store.timescale) return;
      const days = [dayOf(Date.UTC(2040, 0, 1)), dayOf(Date.UTC(2040, 0, 2))];
      const vitalsOf = (i: number) => days.map((day) => vital({ id: `race-${i}-${day}`, ts: day * DAY + i }));
      const counts = await Promise.all(
        Array.from({ length: 6 }, (_, i) => repos.vitals.insertMany(vitalsOf(i))),
      );
      expect(counts).toEqual(Array(6).fill(2));
      expect(await repos.vitals.count()).toBe(12);
    });
  });

  describe('baselines', () => {
    const snapshot = (samples: number) => ({
      v: 3 as const,
      samples,
      adapt_remaining: 0,
      layout: 12345,
      baselines: `AAAA${samples}`,
      error_bits: 0,
      retry_bits: 0,
      window_fill: 20,
      prompts: [123456789],
      prompt_next: 1,
    });

    it('round-trips checkpoints and ignores one older than what is stored', async () => {
      await repos.baselines.save({ agent_id: 'a', kind: 'llm', snapshot: snapshot(20), updated_at: T0 + 10 });
      await repos.baselines.save({ agent_id: 'a', kind: 'llm', snapshot: snapshot(5), updated_at: T0 });
      expect(await repos.baselines.get('a', 'llm')).toEqual({
        agent_id: 'a',
        kind: 'llm',
        snapshot: snapshot(20),
        updated_at: T0 + 10,
      });
      await repos.baselines.saveMany([
        { agent_id: 'a', kind: 'llm', snapshot: snapshot(30), updated_at: T0 + 20 },
        { agent_id: 'a', kind: 'llm', snapshot: snapshot(31), updated_at: T0 + 21 },
        { agent_id: 'a', kind: 'tool', snapshot: snapshot(1), updated_at: T0 },
        { agent_id: 'b', kind: 'llm', snapshot: snapshot(2), updated_at: T0 },
      ]);
      expect((await repos.baselines.get('a', 'llm'))?.snapshot.samples).toBe(31);
      expect((await repos.baselines.list()).map((b) => `${b.agent_id}/${b.kind}`)).toEqual([
        'a/llm',
        'a/tool',
        'b/llm',
      ]);
      expect((await repos.baselines.list({ agentIds: ['b'] })).map((b) => b.agent_id)).toEqual(['b']);
      expect(await repos.baselines.list({ agentIds: [] })).toEqual([]);
      expect(await repos.baselines.remove('a')).toBe(2);
      expect(await repos.baselines.get('a', 'llm')).toBeUndefined();
    });
  });

  describe('sentinel agents', () => {
    const detector = (samples: number) => ({
      v: 3 as const,
      samples,
      adapt_remaining: 0,
      layout: 12345,
      baselines: `AAAA${samples}`,
      error_bits: 0,
      retry_bits: 0,
      window_fill: 20,
      prompts: [],
      prompt_next: 0,
    });
    const checkpoint = (agent: string, partition: number, samples: number, at: number) => ({
      partition,
      updated_at: at,
      snapshot: {
        v: 2 as const,
        agent_id: agent,
        state: 'HEALTHY' as const,
        entered_at: T0,
        seq: 1,
        stream_seq: 0,
        detectors: { llm: detector(samples), tool: detector(samples + 1) },
        packed: 'AQ==',
      },
    });

    it('writes the whole triage state, loads it by partition, keeps the newest; baselines on request', async () => {
      await repos.sentinelAgents.saveMany([checkpoint('a', 1, 20, T0 + 10), checkpoint('b', 2, 30, T0)]);
      await repos.sentinelAgents.saveMany([checkpoint('a', 1, 5, T0)]);
      expect(await repos.baselines.get('a', 'tool')).toBeUndefined();
      await repos.sentinelAgents.saveBaselines([checkpoint('a', 1, 20, T0 + 10), checkpoint('a', 1, 5, T0)]);
      expect((await repos.baselines.get('a', 'tool'))?.snapshot.samples).toBe(21);
      const loaded = await repos.sentinelAgents.list({ partitions: [1] });
      expect(loaded).toEqual([checkpoint('a', 1, 20, T0 + 10)]);
      expect((await repos.sentinelAgents.list()).map((c) => c.snapshot.agent_id)).toEqual(['a', 'b']);
      expect(await repos.sentinelAgents.list({ partitions: [] })).toEqual([]);
      expect(await repos.sentinelAgents.get('b')).toEqual(checkpoint('b', 2, 30, T0));
    });

    it('saves more agents at once than one statement can carry (65,535 parameters)', async () => {
      const many = Array.from({ length: 17_000 }, (_, i) => {
        const c = checkpoint(`agent-${i}`, i % 16, 20, T0);
        return { ...c, snapshot: { ...c.snapshot, detectors: { llm: detector(20) } } };
      });
      await repos.sentinelAgents.saveMany(many);
      await repos.sentinelAgents.saveBaselines(many);
      expect(await repos.sentinelAgents.list()).toHaveLength(17_000);
      expect((await repos.baselines.get('agent-16999', 'llm'))?.snapshot.samples).toBe(20);
    });
  });

  describe('infections', () => {
    it('records a report once, attaches a diagnosis and moves the status with compare-and-set', async () => {
      const report = infectionReport({ agent_id: 'a', ts: T0 });
      expect(await repos.infections.record(report)).toBe(true);
      expect(await repos.infections.record(report)).toBe(false);
      const stored = await repos.infections.get(report.id);
      expect(stored).toEqual({
        id: report.id,
        agent_id: 'a',
        ts: T0,
        severity: 'high',
        max_deviation: 6.5,
        fleet_correlated: false,
        report,
        diagnosis: null,
        status: 'detected',
      });

      const diagnosis = {
        infection_id: report.id,
        agent_id: 'a',
        ts: T0 + 1,
        hypotheses: [{ type: 'infinite_loop' as const, confidence: 1, evidence: ['tool calls x10'] }],
      };
      expect(await repos.infections.setDiagnosis(report.id, diagnosis, 'awaiting_approval')).toBe(true);
      expect((await repos.infections.get(report.id))?.diagnosis).toEqual(diagnosis);
      expect(await repos.infections.setStatus(report.id, 'healing', ['detected'])).toBe(false);
      expect(await repos.infections.setStatus(report.id, 'healing', ['awaiting_approval'])).toBe(true);
      expect(await repos.infections.setStatus('missing', 'healing')).toBe(false);
    });

    it('lists newest first with filters', async () => {
      await repos.infections.record(infectionReport({ id: 'i1', agent_id: 'a', ts: T0 }));
      await repos.infections.record(infectionReport({ id: 'i2', agent_id: 'b', ts: T0 + 1 }), 'resolved');
      await repos.infections.record(infectionReport({ id: 'i3', agent_id: 'a', ts: T0 + 2 }));
      expect((await repos.infections.list()).map((i) => i.id)).toEqual(['i3', 'i2', 'i1']);
      expect((await repos.infections.list({ agentId: 'a', since: T0 + 1 })).map((i) => i.id)).toEqual(['i3']);
      expect((await repos.infections.list({ status: ['resolved'] })).map((i) => i.id)).toEqual(['i2']);
      expect(await repos.infections.list({ status: [] })).toEqual([]);
    });
  });

  describe('lifecycle events', () => {
    it('appends a transition once and keeps agents.state on the newest event', async () => {
      await repos.agents.seen('a', T0);
      const toHealthy = {
        agent_id: 'a',
        from: 'INITIALIZING' as const,
        to: 'HEALTHY' as const,
        trigger: 'baseline_ready' as const,
        ts: T0 + 1,
        seq: 1,
      };
      const toSuspected = {
        agent_id: 'a',
        from: 'HEALTHY' as const,
        to: 'SUSPECTED' as const,
        trigger: 'anomaly_detected' as const,
        ts: T0 + 2,
        seq: 2,
        reason: 'token spike 6.5σ',
      };
      // Out of order: the newer event lands first, the older one must not roll the state back.
      expect(await repos.lifecycleEvents.append(toSuspected)).toBe(true);
      expect(await repos.lifecycleEvents.append(toHealthy)).toBe(true);
      expect(await repos.lifecycleEvents.append(toHealthy)).toBe(false);
      expect(await repos.lifecycleEvents.append(toSuspected)).toBe(false);
      expect((await repos.agents.get('a'))?.state).toBe('SUSPECTED');

      expect(await repos.lifecycleEvents.history('a')).toEqual([toHealthy, toSuspected]);
      expect(await repos.lifecycleEvents.history('a', { afterSeq: 1 })).toEqual([toSuspected]);
      expect(await repos.lifecycleEvents.latest('a')).toEqual(toSuspected);
      expect(await repos.lifecycleEvents.latest('nobody')).toBeUndefined();
      expect(await repos.lifecycleEvents.recent({ limit: 1 })).toEqual([toSuspected]);
    });

    it('appends many transitions in one statement; agents.state follows the highest seq', async () => {
      await repos.agents.seen('m', T0);
      await repos.agents.seen('n', T0);
      const step = (agent: string, seq: number, to: 'HEALTHY' | 'SUSPECTED' | 'DRAINING') => ({
        agent_id: agent,
        from: 'INITIALIZING' as const,
        to,
        trigger: 'baseline_ready' as const,
        ts: T0 + seq,
        seq,
      });
      await repos.lifecycleEvents.append(step('n', 5, 'DRAINING'));
      // Within the batch the order is mixed up, and 'n' already has a newer event than any in it.
      await repos.lifecycleEvents.appendMany([
        step('m', 2, 'SUSPECTED'),
        step('m', 3, 'DRAINING'),
        step('m', 1, 'HEALTHY'),
        step('n', 1, 'HEALTHY'),
        step('m', 2, 'SUSPECTED'),
      ]);
      await repos.lifecycleEvents.appendMany([step('m', 1, 'HEALTHY')]);
      expect((await repos.agents.get('m'))?.state).toBe('DRAINING');
      expect((await repos.agents.get('n'))?.state).toBe('DRAINING');
      expect((await repos.lifecycleEvents.history('m')).map((t) => t.seq)).toEqual([1, 2, 3]);
      expect((await repos.lifecycleEvents.history('n')).map((t) => t.seq)).toEqual([1, 5]);
    });

    it("gives each agent its state at a window's start and its transitions inside, agents seen later from their first sighting", async () => {
      await repos.agents.seen('t1', T0);
      await repos.agents.seen('t2', T0 + 50);
      await repos.agents.seen('t3', T0 + 500);
      const move = (agent: string, seq: number, to: 'HEALTHY' | 'QUARANTINED', ts: number) => ({
        agent_id: agent,
        from: 'INITIALIZING' as const,
        to,
        trigger: 'baseline_ready' as const,
        ts,
        seq,
      });
      await repos.lifecycleEvents.appendMany([
        move('t1', 1, 'HEALTHY', T0 + 10),
        move('t1', 2, 'QUARANTINED', T0 + 20),
        move('t1', 3, 'HEALTHY', T0 + 150),
        move('t2', 1, 'HEALTHY', T0 + 120),
        move('t2', 2, 'QUARANTINED', T0 + 250),
      ]);
      const timelines = await repos.lifecycleEvents.timelines({ since: T0 + 100, until: T0 + 200 });
      expect(timelines.map((t) => ({ ...t, transitions: t.transitions.map((m) => m.seq) }))).toEqual([
        { agent_id: 't1', from: T0 + 100, initial: 'QUARANTINED', transitions: [3] },
        { agent_id: 't2', from: T0 + 100, initial: 'INITIALIZING', transitions: [1] },
      ]);
      const later = await repos.lifecycleEvents.timelines({ since: T0 + 400, until: T0 + 600 });
      expect(later.find((t) => t.agent_id === 't3')).toEqual({
        agent_id: 't3',
        from: T0 + 500,
        initial: 'INITIALIZING',
        transitions: [],
      });
    });

    it('records transitions of agents not registered yet', async () => {
      const event = {
        agent_id: 'ghost',
        from: 'INITIALIZING' as const,
        to: 'HEALTHY' as const,
        trigger: 'baseline_ready' as const,
        ts: T0,
        seq: 1,
      };
      expect(await repos.lifecycleEvents.append(event)).toBe(true);
      expect(await repos.agents.get('ghost')).toBeUndefined();
    });
  });

  describe('approvals', () => {
    it('opens one approval per infection and lets it be decided once', async () => {
      const first = await repos.approvals.request({ infection_id: 'i1', agent_id: 'a', ts: T0 });
      const again = await repos.approvals.request({ infection_id: 'i1', agent_id: 'a', ts: T0 + 5 });
      expect(again).toEqual(first);
      expect(first).toMatchObject({ status: 'pending', requested_at: T0, decided_at: null });

      const decided = await repos.approvals.decide(first.id, {
        status: 'approved',
        by: 'alice',
        ts: T0 + 10,
        note: 'go',
      });
      expect(decided).toMatchObject({
        status: 'approved',
        decided_by: 'alice',
        decided_at: T0 + 10,
        note: 'go',
      });
      expect(
        await repos.approvals.decide(first.id, { status: 'rejected', by: 'bob', ts: T0 + 11 }),
      ).toBeUndefined();
      expect((await repos.approvals.forInfection('i1'))?.decided_by).toBe('alice');
    });

    it('decides in bulk only what is still pending, oldest first in the queue', async () => {
      const a = await repos.approvals.request({ infection_id: 'i1', agent_id: 'a', ts: T0 + 2 });
      const b = await repos.approvals.request({ infection_id: 'i2', agent_id: 'b', ts: T0 + 1 });
      const c = await repos.approvals.request({ infection_id: 'i3', agent_id: 'c', ts: T0 + 3 });
      expect((await repos.approvals.pending()).map((x) => x.id)).toEqual([b.id, a.id, c.id]);
      await repos.approvals.decide(c.id, { status: 'cancelled', by: 'system', ts: T0 + 4 });
      const decided = await repos.approvals.decideMany([a.id, b.id, c.id], {
        status: 'rejected',
        by: 'ops',
        ts: T0 + 5,
      });
      expect(decided.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
      expect(await repos.approvals.pending()).toEqual([]);
      expect((await repos.approvals.list({ agentId: 'c' }))[0]?.status).toBe('cancelled');
      expect(await repos.approvals.decideMany([], { status: 'approved', by: 'x', ts: T0 })).toEqual([]);
      expect((await repos.approvals.get(a.id))?.status).toBe('rejected');
    });
  });

  describe('healing actions', () => {
    it('records an attempt, follows its progress, and ignores a stale update', async () => {
      const attempt = {
        id: 'h1',
        infection_id: 'i1',
        agent_id: 'a',
        diagnosis: 'infinite_loop' as const,
        action: 'reset_memory' as const,
        step: 0,
        status: 'pending' as const,
        ts: T0,
      };
      await repos.healingActions.upsert(attempt);
      await repos.healingActions.upsert({
        ...attempt,
        status: 'applied',
        ts: T0 + 10,
        detail: 'webhook 200',
      });
      await repos.healingActions.upsert({ ...attempt, status: 'failed', ts: T0 + 20 });
      await repos.healingActions.upsert({ ...attempt, status: 'applied', ts: T0 + 15 });
      expect(await repos.healingActions.get('h1')).toEqual({
        ...attempt,
        status: 'failed',
        detail: 'webhook 200',
        updated_at: T0 + 20,
      });
      await repos.healingActions.upsert({ ...attempt, id: 'h2', step: 1, action: 'restart', ts: T0 + 30 });
      expect((await repos.healingActions.forInfection('i1')).map((h) => h.action)).toEqual([
        'reset_memory',
        'restart',
      ]);
      expect((await repos.healingActions.forAgent('a', { limit: 1 })).map((h) => h.id)).toEqual(['h2']);
    });
  });

  describe('immune memory', () => {
    it('counts a verdict once and returns verdicts in the order summarizeMemory needs', async () => {
      const base = { agent_id: 'a', diagnosis: 'infinite_loop' as const, action: 'reset_memory' as const };
      expect(await repos.immuneMemory.record({ ...base, id: 'h1', outcome: 'failed', ts: T0 })).toBe(true);
      expect(await repos.immuneMemory.record({ ...base, id: 'h1', outcome: 'failed', ts: T0 })).toBe(false);
      await repos.immuneMemory.record({ ...base, id: 'h2', outcome: 'succeeded', ts: T0 + 10 });
      await repos.immuneMemory.record({ ...base, agent_id: 'b', outcome: 'failed', ts: T0 + 5 });
      const records = await repos.immuneMemory.list();
      expect(records.map((r) => r.ts)).toEqual([T0, T0 + 5, T0 + 10]);
      const memory = summarizeMemory(records);
      expect(memory.fleet.get('infinite_loop/reset_memory')).toEqual({ succeeded: 1, failed: 2 });
      // The later success lifts agent a's failure; agent b's stands.
      expect(memory.failedForAgent.size).toBe(1);
      expect((await repos.immuneMemory.list({ agentId: 'b' })).length).toBe(1);
      expect((await repos.immuneMemory.list({ since: T0 + 6 })).length).toBe(1);
    });
  });

  describe('feedback', () => {
    it('stores operator labels that fold into the diagnostician counts', async () => {
      const label = {
        infection_id: 'i1',
        agent_id: 'a',
        predicted: 'external_cause' as const,
        true_cause: 'memory_corruption' as const,
        anomaly_types: ['latency_spike' as const, 'input_token_spike' as const],
        operator: 'alice',
        ts: T0,
      };
      const stored = await repos.feedback.record(label);
      expect(stored).toEqual({ ...label, id: stored.id });
      await repos.feedback.record({ ...label, infection_id: 'i2', ts: T0 + 1 });
      const all = await repos.feedback.list();
      const counts = all.reduce((acc, f) => recordFeedback(acc, f.anomaly_types, f.true_cause), {});
      expect(counts).toEqual({
        latency_spike: { memory_corruption: 2 },
        input_token_spike: { memory_corruption: 2 },
      });
      expect((await repos.feedback.forInfection('i2')).map((f) => f.ts)).toEqual([T0 + 1]);
      expect((await repos.feedback.list({ since: T0 + 1 })).length).toBe(1);
    });
  });

  describe('transactions', () => {
    it('rolls back every repository write of a failed transaction', async () => {
      await expect(
        store.db.transaction().execute(async (trx) => {
          const tx = createRepositories(trx);
          await tx.agents.seen('a', T0);
          await tx.vitals.insertMany(vitals(2));
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await repos.agents.get('a')).toBeUndefined();
      expect(await repos.vitals.count()).toBe(0);
    });
  });

  describe('vitals writer', () => {
    it('resolves add only after the batch is committed', async () => {
      const writer = new VitalsWriter(store.db, { batchSize: 100, flushIntervalMs: 60_000 });
      let resolved = 0;
      const adds = vitals(3).map((v) => writer.add(v).then(() => resolved++));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(resolved).toBe(0);
      expect(await repos.vitals.count()).toBe(0);
      expect(writer.stats.pending).toBe(3);
      await writer.flush();
      await Promise.all(adds);
      expect(await repos.vitals.count()).toBe(3);
      expect(writer.stats).toMatchObject({ written: 3, batches: 1, pending: 0 });
      await writer.close();
    });

    it('flushes by size and by time', async () => {
      const bySize = new VitalsWriter(store.db, { batchSize: 5, flushIntervalMs: 60_000 });
      await Promise.all(vitals(5).map((v) => bySize.add(v)));
      expect(await repos.vitals.count()).toBe(5);
      const byTime = new VitalsWriter(store.db, { batchSize: 1000, flushIntervalMs: 20 });
      await Promise.all(vitals(2).map((v) => byTime.add(v)));
      expect(await repos.vitals.count()).toBe(7);
      await Promise.all([bySize.close(), byTime.close()]);
    });

    it('counts redelivered vitals as duplicates, not new rows', async () => {
      const writer = new VitalsWriter(store.db, { batchSize: 4, flushIntervalMs: 10 });
      const batch = vitals(4);
      await writer.addMany(batch);
      await writer.addMany([...batch.slice(0, 2), vital(), vital()]);
      expect(writer.stats).toMatchObject({ written: 6, duplicates: 2 });
      expect(await repos.vitals.count()).toBe(6);
      await writer.close();
    });

    it('rejects every vital of a failed batch and writes none of it', async () => {
      // A constraint only this test's schema has: the database refuses one row of the batch.
      await sql`alter table vitals add constraint no_poison check (agent_id <> 'poison')`.execute(store.db);
      const writer = new VitalsWriter(store.db, { batchSize: 4, flushIntervalMs: 60_000 });
      const failing = [vital(), vital(), vital({ agent_id: 'poison' }), vital()].map((v) => writer.add(v));
      for (const result of await Promise.allSettled(failing)) expect(result.status).toBe('rejected');
      expect(await repos.vitals.count()).toBe(0);
      expect(writer.stats).toMatchObject({ failed: 4, failedBatches: 1, pending: 0 });

      await writer.addMany(vitals(4));
      expect(await repos.vitals.count()).toBe(4);
      await writer.close();
    });

    it('refuses an unstorable vital alone, before it can fail a batch', async () => {
      const writer = new VitalsWriter(store.db, { batchSize: 3, flushIntervalMs: 60_000 });
      const good = vitals(3).map((v) => writer.add(v));
      await expect(writer.add(vital({ input_tokens: 2 ** 40 }))).rejects.toBeInstanceOf(UnstorableVitalError);
      await Promise.all(good);
      expect(await repos.vitals.count()).toBe(3);
      await writer.close();
    });

    it('makes callers wait when full instead of buffering without bound', async () => {
      const writer = new VitalsWriter(store.db, {
        batchSize: 10,
        maxPending: 20,
        concurrency: 2,
        flushIntervalMs: 5,
      });
      const blocked = await blockVitals(store);
      let committed = 0;
      const adds = vitals(55).map((v) => writer.add(v).then(() => committed++));
      await until(() => writer.stats.waiting === 35);
      expect(writer.stats.pending).toBe(20);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(committed).toBe(0);
      expect(writer.stats.pending).toBeLessThanOrEqual(20);

      await blocked.release();
      await Promise.all(adds);
      expect(committed).toBe(55);
      expect(await repos.vitals.count()).toBe(55);
      expect(writer.stats).toMatchObject({ pending: 0, waiting: 0, written: 55 });
      await writer.close();
    });

    it('writes what it holds on close, including waiting callers, then refuses more', async () => {
      const writer = new VitalsWriter(store.db, { batchSize: 10, maxPending: 10, flushIntervalMs: 60_000 });
      const adds = vitals(25).map((v) => writer.add(v));
      await writer.close();
      await Promise.all(adds);
      expect(await repos.vitals.count()).toBe(25);
      await expect(writer.add(vital())).rejects.toBeInstanceOf(WriterClosedError);
      await writer.close();
    });
  });
});
