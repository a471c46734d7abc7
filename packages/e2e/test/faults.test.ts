import { OwnNatsServer } from '@immune/bus/testing';
import { MockUpstream } from '@immune/mock-upstream';
import { openStore } from '@immune/store';
import { TempPostgres } from '@immune/store/testing';
import { describe, expect, it } from 'vitest';
import { freePort, ServiceProcess } from './faults/service-process.js';
import { BOUNDARY_GAP_MS, Traffic } from './faults/traffic.js';

/**
 * The fault test (docs/faults.md): gateway, ingest, sentinel and healer each in its own process on a NATS
 * server and a PostgreSQL cluster of the test's own (never the machine's), 20 agents calling through the
 * gateway and reporting to ingest at a steady pace, then kill -9 ingest, kill -9 NATS, an immediate stop of
 * PostgreSQL and kill -9 of the sentinel, each restarted. Afterwards every vital is accounted for per agent:
 * none lost, none stored twice, and no gateway client ever saw an error. `pnpm --filter @immune/e2e faults`.
 */

const AGENTS = Array.from({ length: 20 }, (_, i) => `fault-${String(i).padStart(2, '0')}`);
const API_KEY = 'faults-test-ingest-key-0123456789';
const PERIOD_MS = 500;
/** Rounds of traffic after each fault is repaired, before the next one. */
const SETTLE_ROUNDS = 6;
/** Rounds a dependency stays down. */
const OUTAGE_ROUNDS = 6;

interface Row {
  fault: string;
  sent: number;
  stored: number;
  lost: number;
  duplicated: number;
  clientErrors: number;
  ingestRetries: number;
}

describe('faults', { timeout: 300_000 }, () => {
  it('loses no vital, stores none twice and fails no gateway client through kill -9 of ingest, NATS and the sentinel and a PostgreSQL stop', async () => {
    const nats = await OwnNatsServer.start();
    const pg = await TempPostgres.start();
    const mock = await MockUpstream.start();
    // Migrations once, before the services race to run them.
    await (await openStore({ databaseUrl: pg.url, migrate: true })).close();
    const common = {
      NATS_URL: nats.url,
      IMMUNE_PARTITIONS: '4',
    };
    const withDb = { ...common, DATABASE_URL: pg.url };
    const gateway = new ServiceProcess('gateway', await freePort(), {
      ...common,
      LLM_UPSTREAM_URL: `${mock.url}/v1`,
    });
    gateway.env.GATEWAY_PORT = String(gateway.port);
    const ingest = new ServiceProcess('ingest', await freePort(), {
      ...withDb,
      INGEST_API_KEY: API_KEY,
      // Unacked vitals of a killed recorder come back after this; 30 s by default.
      INGEST_RECORDER_ACK_WAIT_MS: '5000',
    });
    ingest.env.INGEST_PORT = String(ingest.port);
    const sentinel = new ServiceProcess('sentinel', await freePort(), {
      ...withDb,
      // This test is about delivery, not detection: a machine at load 20 makes latencies noisy, and an agent
      // quarantined for it would be refused by the gateway, which is not a fault of delivery.
      SENTINEL_THRESHOLD_SIGMA: '1000',
      SENTINEL_SOFT_CONTAINMENT: 'false',
    });
    sentinel.env.SENTINEL_PORT = String(sentinel.port);
    const healer = new ServiceProcess('healer', await freePort(), {
      ...withDb,
      HEALER_EXECUTION: 'simulated',
    });
    healer.env.HEALER_PORT = String(healer.port);
    const services = [gateway, ingest, sentinel, healer];
    let traffic: Traffic | undefined;
    try {
      for (const service of services) await service.start();
      traffic = new Traffic(AGENTS, gateway.url, ingest.url, API_KEY, PERIOD_MS);
      const t = traffic;
      const rounds = async (n: number) => {
        const target = t.roundsDone + n;
        while (t.roundsDone < target) await new Promise((resolve) => setTimeout(resolve, 50));
      };
      t.start();
      await rounds(SETTLE_ROUNDS);

      t.label = 'kill -9 ingest';
      await ingest.kill();
      await ingest.start();
      await rounds(SETTLE_ROUNDS);

      t.label = 'kill -9 NATS';
      await nats.kill();
      await rounds(OUTAGE_ROUNDS);
      await nats.resume();
      await rounds(SETTLE_ROUNDS);

      t.label = 'PostgreSQL stopped (immediate)';
      await pg.stop();
      await rounds(OUTAGE_ROUNDS);
      await pg.resume();
      await rounds(SETTLE_ROUNDS);

      t.label = 'kill -9 sentinel';
      await sentinel.kill();
      await sentinel.start();
      await rounds(SETTLE_ROUNDS);
      await t.stop();

      const store = await openStore({ databaseUrl: pg.url, migrate: false });
      try {
        const expectedPerAgent = new Map<string, number>();
        for (const agent of AGENTS) expectedPerAgent.set(agent, t.sent.gatewayOk.get(agent) ?? 0);
        for (const { agent } of t.sent.ingest.values())
          expectedPerAgent.set(agent, (expectedPerAgent.get(agent) ?? 0) + 1);
        const load = () => store.db.selectFrom('vitals').select(['id', 'agent_id', 'source', 'ts']).execute();
        // The recorder writes what is still in flight (redeliveries after its ack wait included).
        let rows = await load();
        const settled = Date.now() + 120_000;
        while (
          rows.length < [...expectedPerAgent.values()].reduce((a, b) => a + b, 0) &&
          Date.now() < settled
        ) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          rows = await load();
        }

        const table = account(t, rows);
        console.log(formatTable(table));
        const perAgent = new Map<string, number>();
        for (const row of rows) perAgent.set(row.agent_id, (perAgent.get(row.agent_id) ?? 0) + 1);
        for (const agent of AGENTS) expect(perAgent.get(agent), agent).toBe(expectedPerAgent.get(agent));
        for (const row of table) {
          expect(row.lost, row.fault).toBe(0);
          expect(row.duplicated, row.fault).toBe(0);
          expect(row.clientErrors, row.fault).toBe(0);
        }
        expect(table.reduce((sum, row) => sum + row.sent, 0)).toBeGreaterThan(AGENTS.length * 2 * 30);
      } finally {
        await store.close();
      }
    } finally {
      if (traffic) await traffic.stop().catch(() => undefined);
      for (const service of services) await service.stop().catch(() => undefined);
      await mock.close();
      await nats.stop();
      await pg.destroy();
    }
  });
});

/** Per fault: what was sent during it, and what PostgreSQL holds of it. */
function account(
  traffic: Traffic,
  rows: ReadonlyArray<{ id: string; agent_id: string; source: string; ts: Date }>,
): Row[] {
  const { sent } = traffic;
  const labels = [...new Set(sent.rounds.map((r) => r.label))];
  const byLabel = new Map<string, Row>(
    labels.map((fault) => [
      fault,
      {
        fault,
        sent: 0,
        stored: 0,
        lost: 0,
        duplicated: 0,
        clientErrors: sent.gatewayErrors.get(fault) ?? 0,
        ingestRetries: sent.ingestRetries.get(fault) ?? 0,
      },
    ]),
  );
  // Ingest vitals carry the test's ids: exact per vital.
  const ingestCopies = new Map<string, number>();
  // Gateway vitals get the gateway's ids: counted per fault by the round their ts falls in.
  const gatewayStored = new Map<string, number>();
  for (const row of rows) {
    if (row.source === 'ingest') ingestCopies.set(row.id, (ingestCopies.get(row.id) ?? 0) + 1);
    else {
      // The nearest round: the gateway stamps a vital when the call ends, which can be a little after the
      // client saw the answer; rounds of different faults are BOUNDARY_GAP_MS apart.
      const at = row.ts.getTime();
      let label = 'outside any round';
      let best = BOUNDARY_GAP_MS / 2;
      for (const r of sent.rounds) {
        const distance = at < r.start ? r.start - at : at > r.end ? at - r.end : 0;
        if (distance < best) {
          best = distance;
          label = r.label;
        }
      }
      gatewayStored.set(label, (gatewayStored.get(label) ?? 0) + 1);
    }
  }
  for (const [id, { label }] of sent.ingest) {
    const row = byLabel.get(label)!;
    const copies = ingestCopies.get(id) ?? 0;
    row.sent++;
    row.stored += copies;
    if (copies === 0) row.lost++;
    if (copies > 1) row.duplicated += copies - 1;
  }
  // Gateway calls answered 200, per label: the rounds' calls minus the label's client errors.
  const callsPerLabel = new Map<string, number>();
  for (const r of sent.rounds)
    callsPerLabel.set(r.label, (callsPerLabel.get(r.label) ?? 0) + traffic.agentCount);
  for (const [label, calls] of callsPerLabel) {
    const row = byLabel.get(label)!;
    const ok = calls - (sent.gatewayErrors.get(label) ?? 0);
    const stored = gatewayStored.get(label) ?? 0;
    row.sent += ok;
    row.stored += stored;
    row.lost += Math.max(0, ok - stored);
    row.duplicated += Math.max(0, stored - ok);
  }
  const outside = gatewayStored.get('outside any round') ?? 0;
  const table = [...byLabel.values()];
  if (outside > 0)
    table.push({
      fault: 'outside any round',
      sent: 0,
      stored: outside,
      lost: 0,
      duplicated: outside,
      clientErrors: 0,
      ingestRetries: 0,
    });
  return table;
}

function formatTable(rows: readonly Row[]): string {
  const header =
    '| fault | vitals sent | stored | lost | duplicated | gateway client errors | ingest retries |';
  const lines = rows.map(
    (r) =>
      `| ${r.fault} | ${r.sent} | ${r.stored} | ${r.lost} | ${r.duplicated} | ${r.clientErrors} | ${r.ingestRetries} |`,
  );
  return [header, '|---|---|---|---|---|---|---|', ...lines].join('\n');
}
