import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Type from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, VitalDelivery } from '../src/bus.js';
import { BusCommandError, BusUnavailableError } from '../src/errors.js';
import { defineCommand } from '../src/messages.js';
import { connectNatsBus } from '../src/nats-bus.js';
import { OwnNatsServer } from '../src/own-nats-server.js';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '../src/testing.js';
import { testVital } from './contract.js';

const url = await natsUrlForTests();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('NATS bus behaviour', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  async function open(prefix: string, overrides: { url?: string } = {}): Promise<Bus> {
    const bus = await connectNatsBus({ url: overrides.url ?? url, prefix, publishTimeoutMs: 500 });
    cleanups.push(() => bus.drain());
    return bus;
  }

  it('provisions streams with the contract settings, idempotently', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => removeTopology(url, prefix));
    const first = await open(prefix);
    await open(prefix);
    const nc = await connect({ servers: url });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const vitals = await jsm.streams.info(first.topology.vitalsStream);
    expect(vitals.config).toMatchObject({
      subjects: [`${prefix}.vitals.>`],
      max_age: 24 * 3600 * 1e9,
      duplicate_window: 120 * 1e9,
      retention: 'limits',
    });
    const events = await jsm.streams.info(first.topology.eventsStream);
    expect(events.config.max_age).toBe(30 * 24 * 3600 * 1e9);
  });

  it('terminates a malformed message at the edge and keeps consuming', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => removeTopology(url, prefix));
    const bus = await open(prefix);
    const seen: string[] = [];
    const dropped: string[] = [];
    const sub = await bus.consumeVitals({
      durable: 'edge',
      handler: async (d) => void seen.push(d.vital.id),
      onDropped: (reason) => dropped.push(reason),
    });
    const nc = await connect({ servers: url });
    cleanups.push(() => nc.close());
    const subject = bus.topology.vitalSubject('edge-agent');
    nc.publish(subject, 'not json');
    nc.publish(
      subject,
      JSON.stringify({ v: 1, id: 'x', ts: 1, type: 'vital', agentId: 'edge-agent', data: { id: 'x' } }),
    );
    // Core publishes on another connection are not ordered against the bus's own publish; the flush
    // round-trip puts both malformed messages in the stream before the good one.
    await nc.flush();
    const good = testVital('edge-agent');
    await bus.publishVital(good);
    await eventually(() => expect(seen).toEqual([good.id]));
    await eventually(() => expect(dropped).toHaveLength(2));
    expect(dropped[0]).toMatch(/not JSON/);
    expect(dropped[1]).toMatch(/\/data\/agent_id is required/);
    await sub.stop();
  });

  it('redelivers to another instance what a stuck or crashed instance never acked', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => removeTopology(url, prefix));
    const stuck = await connectNatsBus({ url, prefix });
    const healthy = await open(prefix);
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stuckSub = await stuck.consumeVitals({
      durable: 'shared',
      maxInFlight: 1,
      ackWaitMs: 1_000,
      handler: () => blocked,
    });
    const vital = testVital('crash-agent');
    await stuck.publishVital(vital);
    await sleep(300);
    const received: VitalDelivery[] = [];
    const healthySub = await healthy.consumeVitals({
      durable: 'shared',
      ackWaitMs: 1_000,
      handler: async (d) => void received.push(d),
    });
    await eventually(() => expect(received.map((d) => d.vital.id)).toContain(vital.id), 8_000);
    expect(received[0]).toMatchObject({ redelivered: true });
    release();
    await stuckSub.stop();
    await stuck.drain();
    await healthySub.stop();
  });

  it('fails publishes fast while NATS is down, then reconnects and delivers', async () => {
    const server = await OwnNatsServer.start();
    cleanups.push(() => server.stop());
    const prefix = uniquePrefix();
    const bus = await open(prefix, { url: server.url });
    const seen: string[] = [];
    const sub = await bus.consumeVitals({
      durable: 'outage',
      handler: async (d) => void seen.push(d.vital.id),
    });
    const before = testVital('outage-agent');
    await bus.publishVital(before);
    await eventually(() => expect(seen).toEqual([before.id]));

    await server.kill();
    await eventually(() => expect(bus.status).toBe('reconnecting'));
    const started = performance.now();
    await expect(bus.publishVital(testVital('outage-agent'))).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(bus.publishVitals([testVital('outage-agent')])).rejects.toBeInstanceOf(BusUnavailableError);
    expect(performance.now() - started).toBeLessThan(100);

    await server.resume();
    await eventually(() => expect(bus.status).toBe('connected'), 10_000);
    const after = testVital('outage-agent');
    await eventually(async () => {
      await bus.publishVital(after);
    }, 10_000);
    const batch = [testVital('outage-agent'), testVital('outage-agent')];
    await bus.publishVitals(batch);
    await eventually(
      () => expect(seen).toEqual(expect.arrayContaining([after.id, ...batch.map((v) => v.id)])),
      15_000,
    );
    await sub.stop();
  }, 40_000);

  it('answers reply_failed when a reply cannot be sent, and keeps serving', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => removeTopology(url, prefix));
    const bus = await open(prefix);
    const ECHO = defineCommand({
      service: 'test',
      verb: 'echo',
      request: Type.Object({ bytes: Type.Integer({ minimum: 0 }) }),
      reply: Type.Object({ blob: Type.String() }),
    });
    // Larger than the server's max_payload (1 MiB by default): the client refuses to send it.
    const sub = await bus.handleCommand(ECHO, async ({ bytes }) => ({ blob: 'x'.repeat(bytes) }));
    const failed = await bus.request(ECHO, { bytes: 2 * 1024 * 1024 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(BusCommandError);
    expect(failed).toMatchObject({ code: 'reply_failed' });
    expect((failed as Error).message).toMatch(/payload/i);
    expect(await bus.request(ECHO, { bytes: 3 })).toEqual({ blob: 'xxx' });
    await sub.stop();
  });

  it('fails a batch whose acks do not all come (no stream listens), without waiting for the timeout', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => removeTopology(url, prefix));
    const bus = await open(prefix);
    const nc = await connect({ servers: url });
    cleanups.push(() => nc.close());
    await (await jetstreamManager(nc)).streams.delete(bus.topology.vitalsStream);
    const started = performance.now();
    const failure = await bus
      .publishVitals([testVital('gone'), testVital('gone')])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BusUnavailableError);
    expect(String(failure)).toMatch(/2 of 2: no stream acknowledged the publish \(status 503/);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
