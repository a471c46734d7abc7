import { connectNatsBus } from '@immune/bus';
import { eventually, OwnNatsServer, uniquePrefix } from '@immune/bus/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect, it } from 'vitest';
import { reported, startApp } from './harness.js';

it('answers 503 with the ids while NATS is down; the same batch retried later is on the bus exactly once', async () => {
  const nats = await OwnNatsServer.start();
  const bus = await connectNatsBus({
    url: nats.url,
    prefix: uniquePrefix('outage'),
    publishTimeoutMs: 1_000,
  });
  const app = await startApp({ bus, limits: { maxBatch: 1000 } });
  const seen = new Set<string>();
  const consumer = await bus.consumeVitals({
    durable: 'probe',
    handler: async (d) => void seen.add(d.vital.id),
  });
  const post = (vitals: unknown[]) =>
    app.server.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${app.key}` },
      payload: { vitals } as Record<string, unknown>,
    });
  try {
    const first = Array.from({ length: 400 }, (_, i) => reported(`outage-${i % 7}`));
    expect((await post(first)).statusCode).toBe(202);

    await nats.kill();
    await eventually(() => expect(bus.status).toBe('reconnecting'), 10_000);
    const second = Array.from({ length: 600 }, (_, i) => reported(`outage-${i % 7}`));
    const refused = await post(second);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    const error = (refused.json() as { error: { code: string; details: { ids: string[] } } }).error;
    expect(error.code).toBe('BUS_UNAVAILABLE');
    expect(error.details.ids).toEqual(second.map((v) => v.id));

    await nats.resume();
    await eventually(() => expect(bus.status).toBe('connected'), 15_000);
    // The client retries the same batch (and, being unsure, the first one too): nothing is added twice.
    await eventually(async () => expect((await post(second)).statusCode).toBe(202), 15_000);
    expect((await post(first)).statusCode).toBe(202);
    await eventually(() => expect(seen.size).toBe(1000), 30_000);
    // Deliveries are at least once (the killed server may redeliver what it had not recorded as acked); the
    // stream itself holds each vital once.
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(bus.topology.vitalsStream);
      expect(info.state.messages).toBe(1000);
    } finally {
      await nc.close();
    }
  } finally {
    await consumer.stop();
    await app.close();
    await bus.drain();
    await nats.stop();
  }
}, 90_000);
