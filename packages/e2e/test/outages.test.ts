import { eventually, OwnNatsServer } from '@immune/bus/testing';
import { hashOperatorToken, mintOperatorToken } from '@immune/runtime';
import { openStore } from '@immune/store';
import { TempPostgres } from '@immune/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ServiceProcess } from './faults/service-process.js';

/**
 * What each service says and how its /readyz answers while NATS or PostgreSQL is gone (docs/architecture.md,
 * "Readiness and outages"): every service its own process, as deployed, at LOG_LEVEL=warn, on a nats-server
 * and a PostgreSQL cluster of the test's own, which the test stops and starts again (never the machine's).
 * Per dependency and service: exactly one `dependency-down` warning, one `dependency-up` warning, and
 * `immune_dependency_up{dependency}` going 1 → 0 → 1.
 */

const OPERATOR_LINE = `outage-op:operator:${hashOperatorToken(mintOperatorToken())}`;

let nats: OwnNatsServer;
let pg: TempPostgres;
const services: ServiceProcess[] = [];
let ingest: ServiceProcess;
let sentinel: ServiceProcess;
let healer: ServiceProcess;
let dashboard: ServiceProcess;

async function service(
  app: string,
  portVariable: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const process = new ServiceProcess(app, await freePort(), {
    NATS_URL: nats.url,
    DATABASE_URL: pg.url,
    IMMUNE_PARTITIONS: '4',
    IMMUNE_OPERATOR_TOKENS: OPERATOR_LINE,
    ...env,
  });
  process.env[portVariable] = String(process.port);
  services.push(process);
  return process;
}

async function ready(target: ServiceProcess): Promise<number> {
  return (await fetch(`${target.url}/readyz`)).status;
}

/** `immune_dependency_up` for one dependency, as the service's /metrics says it. */
async function dependencyUp(target: ServiceProcess, dependency: string): Promise<number | undefined> {
  const text = await (await fetch(`${target.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('immune_dependency_up{') && l.includes(`dependency="${dependency}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

function transitions(target: ServiceProcess, event: string, dependency: string) {
  return target.events(event).filter((line) => line.dependency === dependency);
}

describe('outages', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    nats = await OwnNatsServer.start();
    pg = await TempPostgres.start();
    // Migrations once, before the services race to run them.
    await (await openStore({ databaseUrl: pg.url, migrate: true })).close();
    ingest = await service('ingest', 'INGEST_PORT', { INGEST_API_KEY: 'outage-test-ingest-key-0123456789' });
    sentinel = await service('sentinel', 'SENTINEL_PORT', {});
    healer = await service('healer', 'HEALER_PORT', { HEALER_EXECUTION: 'simulated' });
    dashboard = await service('dashboard', 'DASHBOARD_PORT', {});
    for (const s of services) await s.start();
  }, 240_000);

  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
    await nats?.stop();
    await pg?.destroy();
  });

  it('NATS stopped: the sentinel and the healer are not ready, the dashboard stays ready; each says so once each way', async () => {
    const watched = [sentinel, healer, dashboard];
    for (const s of watched) {
      expect(await ready(s), s.app).toBe(200);
      expect(await dependencyUp(s, 'nats'), s.app).toBe(1);
    }

    await nats.kill();
    for (const s of [sentinel, healer])
      await eventually(async () => expect(await ready(s), s.app).toBe(503), 30_000);
    for (const s of watched) {
      await eventually(
        () => expect(transitions(s, 'dependency-down', 'nats'), s.app).toHaveLength(1),
        30_000,
      );
      expect(transitions(s, 'dependency-down', 'nats')[0], s.app).toMatchObject({
        level: 'warn',
        msg: 'nats is unreachable',
      });
      expect(await dependencyUp(s, 'nats'), s.app).toBe(0);
    }
    // The dashboard's pages read PostgreSQL: a NATS outage stops only its live feed and commands.
    expect(await ready(dashboard)).toBe(200);

    await nats.resume();
    for (const s of watched) {
      await eventually(async () => expect(await ready(s), s.app).toBe(200), 60_000);
      await eventually(() => expect(transitions(s, 'dependency-up', 'nats'), s.app).toHaveLength(1), 30_000);
      expect(transitions(s, 'dependency-up', 'nats')[0], s.app).toMatchObject({
        level: 'warn',
        msg: 'nats is reachable again',
      });
      expect(await dependencyUp(s, 'nats'), s.app).toBe(1);
      expect(transitions(s, 'dependency-down', 'nats'), s.app).toHaveLength(1);
    }
  });

  it('PostgreSQL stopped: only the dashboard is not ready; ingest, sentinel, healer and dashboard say so once each way', async () => {
    const watched = [ingest, sentinel, healer, dashboard];
    for (const s of watched) {
      await eventually(async () => expect(await ready(s), s.app).toBe(200), 60_000);
      expect(await dependencyUp(s, 'postgresql'), s.app).toBe(1);
    }

    await pg.stop();
    for (const s of watched) {
      await eventually(
        () => expect(transitions(s, 'dependency-down', 'postgresql'), s.app).toHaveLength(1),
        30_000,
      );
      expect(transitions(s, 'dependency-down', 'postgresql')[0], s.app).toMatchObject({
        level: 'warn',
        msg: 'postgresql is unreachable',
      });
      expect(await dependencyUp(s, 'postgresql'), s.app).toBe(0);
    }
    // Every dashboard page but the live feed reads PostgreSQL; the others keep consuming from NATS (ingest
    // keeps accepting and its recorder's unacked vitals are redelivered; sentinel and healer keep consuming).
    expect(await ready(dashboard)).toBe(503);
    for (const s of [ingest, sentinel, healer]) expect(await ready(s), s.app).toBe(200);

    await pg.resume();
    for (const s of watched) {
      await eventually(
        () => expect(transitions(s, 'dependency-up', 'postgresql'), s.app).toHaveLength(1),
        60_000,
      );
      expect(transitions(s, 'dependency-up', 'postgresql')[0], s.app).toMatchObject({
        level: 'warn',
        msg: 'postgresql is reachable again',
      });
      expect(await dependencyUp(s, 'postgresql'), s.app).toBe(1);
      expect(transitions(s, 'dependency-down', 'postgresql'), s.app).toHaveLength(1);
      await eventually(async () => expect(await ready(s), s.app).toBe(200), 30_000);
    }
  });
});
