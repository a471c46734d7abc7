import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, VitalDelivery } from '../src/bus.js';
import {
  HEALER_AGENTS,
  HEALER_APPROVE,
  HEALER_QUARANTINE,
  HEALER_RELEASE,
  SENTINEL_LIFECYCLE,
} from '../src/commands-catalog.js';
import { BusCommandError, BusNoRespondersError } from '../src/errors.js';
import { GATEWAY_BUCKET, GATEWAY_LIMITS_BUCKET } from '../src/gateway-config.js';
import { MCP_PENDING_BUCKET } from '../src/mcp-pending.js';
import {
  type EventEnvelope,
  FLEET_BUCKET,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
} from '../src/messages.js';
import { connectNatsBus } from '../src/nats-bus.js';
import { natsAuthorizationConfig, natsPasswordVariable } from '../src/nats-permissions.js';
import { natsSecurity } from '../src/nats-security.js';
import { OwnNatsServer } from '../src/own-nats-server.js';
import { BUS_USERS, type BusUser } from '../src/service-access.js';
import { eventually } from '../src/testing.js';
import { testVital } from './contract.js';

// Each bus user's permissions, exactly as shipped (natsAuthorizationConfig), on a real nats-server: every user
// does what its service does on the bus and succeeds, and tries something its service must not do and is
// refused by the server (not by our client).

const PREFIX = 'immune';
// Passwords start with a letter: nats-server parses a `$VARIABLE`'s value as a config value, and one that
// starts with a digit is read as a number and fails to parse (see docs/bus.md).
const passwords = Object.fromEntries(
  BUS_USERS.map((u) => [u, `p${randomBytes(12).toString('hex')}`]),
) as Record<BusUser, string>;
let server: OwnNatsServer;
const buses = new Map<BusUser, Bus>();

async function busOf(user: BusUser): Promise<Bus> {
  let bus = buses.get(user);
  if (!bus) {
    bus = await connectNatsBus({
      url: server.url,
      prefix: PREFIX,
      partitions: 2,
      name: user,
      publishTimeoutMs: 2_000,
      security: natsSecurity({
        NATS_URL: server.url,
        NATS_USER: user,
        NATS_PASSWORD: passwords[user],
      }),
    });
    buses.set(user, bus);
  }
  return bus;
}

const entry = (agent: string, by: QuarantineEntry['by']): QuarantineEntry => ({
  agent_id: agent,
  state: 'QUARANTINED',
  reason: 'permissions test',
  since: Date.now(),
  by,
});

/** Refused by the server: the operation fails, and the server logged the violation for that subject. */
const expectedViolations = new Set<string>();
async function refused(operation: () => Promise<unknown>, subject: string): Promise<void> {
  expectedViolations.add(subject);
  const outcome = await operation().then(
    () => 'succeeded',
    (error: unknown) => String((error as Error)?.message ?? error),
  );
  expect(outcome).not.toBe('succeeded');
  await eventually(() => {
    expect(server.log).toMatch(
      new RegExp(`(Publish|Subscription) Violation - User "[^"]+", Subject "${escapeRegExp(subject)}`),
    );
  }, 10_000);
}
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\$]/g, '\\$&');

beforeAll(async () => {
  server = await OwnNatsServer.start({
    config: natsAuthorizationConfig({ prefix: PREFIX }),
    env: Object.fromEntries(BUS_USERS.map((u) => [natsPasswordVariable(u), passwords[u]])),
  });
}, 60_000);

afterAll(async () => {
  for (const bus of buses.values()) await bus.drain().catch(() => undefined);
  await server?.stop();
});

describe('least-privilege NATS permissions per service (real nats-server)', { timeout: 60_000 }, () => {
  it('sentinel: consumes vitals, writes quarantine and fleet, publishes any event, serves lifecycle', async () => {
    const sentinel = await busOf('sentinel');
    const seen: string[] = [];
    await sentinel.consumeVitals({
      durable: 'sentinel',
      // As the sentinel runs: in-order recovery after a crash inspects its consumers first.
      inOrderRecovery: true,
      handler: async (delivery: VitalDelivery) => {
        seen.push(delivery.vital.agent_id);
      },
    });
    await sentinel.handleCommand(SENTINEL_LIFECYCLE, async () => {
      throw Object.assign(new Error('unknown agent'), { code: 'not_found' });
    });
    const quarantine = await sentinel.kv(QUARANTINE_BUCKET);
    await quarantine.put('agent-s', entry('agent-s', 'sentinel'));
    expect((await quarantine.get('agent-s'))?.by).toBe('sentinel');
    const fleet = await sentinel.kv(FLEET_BUCKET);
    await fleet.delete('sentinel-0');
    expect((await fleet.entries()).size).toBe(0);
    await sentinel.publishEvent('quarantine.released', 'agent-s', { agent_id: 'agent-s', reason: 'test' });
    // Vitals come from ingest (its own user): the sentinel's consumer receives them.
    await (await busOf('ingest')).publishVitals([testVital('agent-v1'), testVital('agent-v2')]);
    await eventually(() => expect(seen.sort()).toEqual(['agent-v1', 'agent-v2']), 20_000);
  });

  it('sentinel is refused healer commands, the gateway bucket and publishing vitals', async () => {
    const sentinel = await busOf('sentinel');
    await refused(() => sentinel.request(HEALER_RELEASE, { agent_id: 'x' }), `${PREFIX}.cmd.healer.release`);
    await refused(() => sentinel.kv(GATEWAY_BUCKET), `$JS.API.STREAM.INFO.KV_${PREFIX}_gateway`);
    await refused(() => sentinel.publishVital(testVital('agent-x')), `${PREFIX}.vitals.`);
    // It publishes only the events it owns (SENTINEL_EVENTS), not the whole catalogue.
    await refused(
      () =>
        sentinel.publishEvent('agent.discovered', 'agent-x', {
          agent_id: 'agent-x',
          source: 'gateway',
          identity: 'header',
        }),
      `${PREFIX}.events.agent.discovered`,
    );
  });

  it('ingest: publishes vitals and agent.discovered, records vitals; reads no bucket, sends no command', async () => {
    const ingest = await busOf('ingest');
    await ingest.publishEvent('agent.discovered', 'agent-i', {
      agent_id: 'agent-i',
      source: 'ingest',
      identity: 'api_key',
    });
    const recorded: string[] = [];
    await ingest.consumeVitals({
      durable: 'recorder',
      handler: async (delivery: VitalDelivery) => {
        recorded.push(delivery.vital.agent_id);
      },
    });
    await ingest.publishVital(testVital('agent-r'));
    await eventually(() => expect(recorded).toContain('agent-r'), 20_000);
    expect((await ingest.vitalsLag('recorder')).pending).toBeGreaterThanOrEqual(0);

    await refused(() => ingest.kv(QUARANTINE_BUCKET), `$JS.API.STREAM.INFO.KV_${PREFIX}_quarantine`);
    await refused(
      () => ingest.publishEvent('quarantine.applied', 'agent-i', entry('agent-i', 'operator')),
      `${PREFIX}.events.quarantine.applied`,
    );
    await refused(() => ingest.request(HEALER_AGENTS, {}), `${PREFIX}.cmd.healer.agents`);
    await refused(
      () => ingest.subscribeEvents({ durable: 'snoop', handler: async () => undefined }),
      `$JS.API.CONSUMER`,
    );
  });

  it('healer: consumes events, writes quarantine and gateway buckets, serves its commands, asks the sentinel', async () => {
    const healer = await busOf('healer');
    const events: EventEnvelope[] = [];
    await healer.subscribeEvents({
      durable: 'healer',
      types: ['lifecycle.changed'],
      handler: async (event) => {
        events.push(event);
      },
    });
    await healer.handleCommand(HEALER_AGENTS, async () => ({ agents: [] }));
    await (await healer.kv(QUARANTINE_BUCKET)).put('agent-h', entry('agent-h', 'healer'));
    await (await healer.kv(GATEWAY_BUCKET)).delete('policy:none');
    await healer.publishEvent('quarantine.released', 'agent-h', { agent_id: 'agent-h', reason: 'healed' });
    await expect(healer.request(SENTINEL_LIFECYCLE, { agent_id: 'agent-h' })).rejects.toBeInstanceOf(
      BusCommandError,
    );
    const sentinel = await busOf('sentinel');
    const detected = await sentinel.publishEvent('lifecycle.changed', 'agent-h', {
      agent_id: 'agent-h',
      from: 'HEALTHY',
      to: 'SUSPECTED',
      trigger: 'anomaly_detected',
      ts: Date.now(),
      seq: 1,
    });
    await eventually(() => expect(events.map((e) => e.id)).toContain(detected.id), 20_000);

    await refused(() => healer.publishVital(testVital('agent-h')), `${PREFIX}.vitals.`);
    await refused(() => healer.kv(GATEWAY_LIMITS_BUCKET), `$JS.API.STREAM.INFO.KV_${PREFIX}_gateway_limits`);
    // The lifecycle is the sentinel's: the healer asks for transitions, it never announces one (HEALER_EVENTS).
    await refused(
      () =>
        healer.publishEvent('lifecycle.changed', 'agent-h', {
          agent_id: 'agent-h',
          from: 'HEALING',
          to: 'HEALTHY',
          trigger: 'anomaly_detected',
          ts: Date.now(),
          seq: 9,
        }),
      `${PREFIX}.events.lifecycle.changed`,
    );
  });

  it('dashboard and the CLI (operator): send healer commands; the dashboard watches events and quarantine', async () => {
    const dashboard = await busOf('dashboard');
    const operator = await busOf('operator');
    expect(await dashboard.request(HEALER_AGENTS, {})).toEqual({ agents: [] });
    expect(await operator.request(HEALER_AGENTS, {})).toEqual({ agents: [] });
    const live: EventEnvelope[] = [];
    await dashboard.subscribeEvents({
      handler: async (event) => {
        live.push(event);
      },
    });
    const quarantine = await dashboard.kv(QUARANTINE_BUCKET);
    const watch = await quarantine.watch(() => undefined);
    await watch.ready;
    await watch.stop();
    expect((await quarantine.get('agent-h'))?.by).toBe('healer');
    const sent = await (await busOf('sentinel')).publishEvent('quarantine.released', 'agent-d', {
      agent_id: 'agent-d',
      reason: 'live view',
    });
    await eventually(() => expect(live.map((e) => e.id)).toContain(sent.id), 20_000);

    await refused(
      () => quarantine.put('agent-d', entry('agent-d', 'operator')),
      `$KV.${PREFIX}_quarantine.agent-d`,
    );
    await refused(
      () => operator.publishEvent('quarantine.released', 'agent-d', { agent_id: 'agent-d', reason: 'x' }),
      `${PREFIX}.events.quarantine.released`,
    );
    await refused(() => operator.kv(QUARANTINE_BUCKET), `$JS.API.STREAM.INFO.KV_${PREFIX}_quarantine`);
  });

  it('gateway: vitals, its events, reads quarantine, config/limits buckets, lifecycle query, hand containment', async () => {
    const gateway = await busOf('gateway');
    await gateway.publishVital(testVital('agent-g'));
    await gateway.publishEvent('agent.discovered', 'agent-g', {
      agent_id: 'agent-g',
      source: 'gateway',
      identity: 'header',
    });
    const quarantine = await gateway.kv(QUARANTINE_BUCKET);
    expect((await quarantine.get('agent-h'))?.by).toBe('healer');
    await (await gateway.kv(GATEWAY_BUCKET)).delete('route:agent-g');
    const limits = await gateway.kv(GATEWAY_LIMITS_BUCKET);
    expect(
      await limits.compareAndSet('budget', { granted: 1, limit: 10, window_start: 0 }, 0),
    ).toBeGreaterThan(0);
    await expect(gateway.request(SENTINEL_LIFECYCLE, { agent_id: 'agent-g' })).rejects.toBeInstanceOf(
      BusCommandError,
    );
    // The management API relays an operator's hand quarantine to the healer: allowed (nobody serves it here).
    await expect(
      gateway.request(HEALER_QUARANTINE, { agent_id: 'agent-g' }, { timeoutMs: 2_000 }),
    ).rejects.toBeInstanceOf(BusNoRespondersError);

    await refused(
      () => quarantine.put('agent-g', entry('agent-g', 'operator')),
      `$KV.${PREFIX}_quarantine.agent-g`,
    );
    await refused(
      () => gateway.request(HEALER_APPROVE, { approval_id: 'a-1' }),
      `${PREFIX}.cmd.healer.approve`,
    );
    await refused(
      () => gateway.publishEvent('infection.detected', 'agent-g', testInfection('agent-g')),
      `${PREFIX}.events.infection.detected`,
    );
    await refused(() => gateway.kv(FLEET_BUCKET), `$JS.API.STREAM.INFO.KV_${PREFIX}_fleet`);
  });

  it('MCP proxy: vitals, reads quarantine and policies, keeps pending calls; writes no quarantine', async () => {
    const mcp = await busOf('mcp-proxy');
    await mcp.publishVital(testVital('agent-m', { source: 'mcp', kind: 'tool' }));
    const quarantine = await mcp.kv(QUARANTINE_BUCKET);
    expect((await quarantine.get('agent-h'))?.by).toBe('healer');
    const policies = await mcp.kv(GATEWAY_BUCKET);
    const watch = await policies.watch(() => undefined);
    await watch.ready;
    await watch.stop();
    const pending = await mcp.kv(MCP_PENDING_BUCKET);
    await pending.put('call-1', {
      agent_id: 'agent-m',
      session: 's',
      tool: 't',
      server: 'srv',
      started_at: Date.now(),
      request_hash: 'h',
      vital_id: 'v-1',
    });
    await pending.delete('call-1');

    await refused(
      () => quarantine.put('agent-m', entry('agent-m', 'operator')),
      `$KV.${PREFIX}_quarantine.agent-m`,
    );
    await refused(
      () =>
        mcp.publishEvent('agent.discovered', 'agent-m', {
          agent_id: 'agent-m',
          source: 'mcp',
          identity: 'header',
        }),
      `${PREFIX}.events.agent.discovered`,
    );
  });

  it('the server logged no violation besides the refusals above: every allowed operation was fully allowed', () => {
    const violations = [...server.log.matchAll(/Violation - User "([^"]+)", Subject "([^"]+)"/g)].map(
      ([, user, subject]) => `${user} ${subject}`,
    );
    expect(violations.length).toBeGreaterThan(0);
    const unexpected = violations.filter(
      (line) => ![...expectedViolations].some((subject) => line.split(' ')[1]?.startsWith(subject)),
    );
    expect(unexpected).toEqual([]);
  });
});

function testInfection(agentId: string) {
  return {
    infection_id: `inf-${agentId}`,
    agent_id: agentId,
    detected_at: Date.now(),
    severity: 'high',
    anomalies: [],
  } as never;
}
