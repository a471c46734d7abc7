import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix, vitalBacklog } from '@immune/bus/testing';
import { AgentTriage } from '@immune/core';
import { createRepositories } from '@immune/store';
import { createTestStore, resolveTestDatabaseUrl } from '@immune/store/testing';
import { describe, expect, it } from 'vitest';
import { triageConfigFrom } from '../src/sentinel.js';
import { normalVital, rng } from './fixtures.js';
import { FAST_ENV, sentinelConfig, sleep } from './harness.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));

/** The real service (src/main.ts) as a child process, so the test can SIGKILL it. */
function spawnSentinel(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: { ...process.env, ...FAST_ENV, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  return child;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function ready(port: number): Promise<void> {
  await eventually(
    async () =>
      expect((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status).toBe(200),
    30_000,
    50,
  );
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('sentinel crash safety', { timeout: 120_000 }, () => {
  it('loses no vital, counts none twice and judges every agent in stream order after a SIGKILL mid-stream', async () => {
    const natsUrl = await natsUrlForTests();
    const prefix = uniquePrefix('crash');
    const store = await createTestStore();
    const base = await resolveTestDatabaseUrl();
    // The child finds the test's schema through the connection's search_path.
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${store.schema},public`);
    const port = await freePort();
    const env = {
      NATS_URL: natsUrl,
      DATABASE_URL: url.toString(),
      IMMUNE_SUBJECT_PREFIX: prefix,
      SENTINEL_PORT: String(port),
      // The default. Under load, vitals the starting (or killed) process had pulled but not yet handled expire
      // and come back after they were judged and checkpointed: the stream-sequence watermark must skip them.
      SENTINEL_ACK_WAIT_MS: '5000',
    };
    const bus = await connectNatsBus({ url: natsUrl, prefix, partitions: 4 });
    const repos = createRepositories(store.db);
    const agents = Array.from({ length: 20 }, (_, i) => `crash-${i}`);
    const perAgent = 150;
    const random = rng(9);
    const t0 = Date.now() - 3_600_000;
    const vitals = Array.from({ length: perAgent }, (_, round) =>
      agents.map((agent) => normalVital(agent, t0 + round * 1_000, random)),
    ).flat();
    const samples = async () => {
      let total = 0;
      const per = new Map<string, number>();
      for (const c of await repos.sentinelAgents.list()) {
        const n = c.snapshot.detectors.llm?.samples ?? 0;
        per.set(c.snapshot.agent_id, n);
        total += n;
      }
      return { total, per };
    };
    let child = spawnSentinel(env);
    try {
      await ready(port);
      // Publish continuously; kill the sentinel once part of the stream is checkpointed and more is in flight.
      let published = 0;
      const publisher = (async () => {
        for (const v of vitals) {
          await bus.publishVital(v);
          published++;
          if (published % 10 === 0) await sleep(10);
        }
      })();
      await eventually(async () => expect((await samples()).total).toBeGreaterThan(600), 30_000, 25);
      child.kill('SIGKILL');
      await exited(child);
      const atKill = (await samples()).total;
      expect(atKill).toBeLessThan(vitals.length);
      await publisher;
      // Publish one vital again as well: a publisher retry with the same id is deduped by the stream (so every
      // vital's stream sequence is its index + 1), and redeliveries after the crash by the watermark.
      await bus.publishVital(vitals[0]!);

      child = spawnSentinel(env);
      // Settled: every consumer has been handed everything and acked it, so no redelivery is still to come, and
      // acks follow checkpoints, so the stored state is final.
      await eventually(
        async () => expect(await vitalBacklog(natsUrl, prefix)).toEqual({ pending: 0, ackPending: 0 }),
        90_000,
        100,
      );
      const { total, per } = await samples();
      expect(total).toBe(vitals.length);
      for (const agent of agents) expect(per.get(agent)).toBe(perAgent);
      // In order: the same vitals judged once each in stream order by a fresh triage give bit-identical
      // baselines (EWMA updates do not commute), the same dedupe ring and the same watermark. Without in-order
      // recovery, the vitals the killed instance held came back after newer ones had been judged.
      const reference = new AgentTriage(triageConfigFrom(sentinelConfig(env)));
      for (const [i, v] of vitals.entries()) reference.observe(v, i + 1);
      const stored = new Map(
        (await repos.sentinelAgents.list()).map((c) => [c.snapshot.agent_id, c.snapshot] as const),
      );
      for (const agent of agents) {
        const expected = reference.snapshot(agent)!;
        expect(stored.get(agent)?.detectors, agent).toEqual(expected.detectors);
        expect(stored.get(agent)?.packed, agent).toBe(expected.packed);
        expect(stored.get(agent)?.stream_seq, agent).toBe(expected.stream_seq);
      }
      child.kill('SIGTERM');
      await exited(child);
      expect(child.exitCode).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
    }
  });
});
