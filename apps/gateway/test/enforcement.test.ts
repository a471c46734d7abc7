import { QUARANTINE_BUCKET, type QuarantineEntry } from '@immune/bus';
import { OwnNatsServer } from '@immune/bus/testing';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, vitalsFor, waitFor } from './harness.js';

const quarantined = (agent: string, state: QuarantineEntry['state'] = 'QUARANTINED'): QuarantineEntry => ({
  agent_id: agent,
  state,
  reason: 'token explosion at 9.1σ',
  since: 1_732_400_000_000,
  by: 'sentinel',
  infection_id: 'inf-42',
});

const client = (h: Harness, agent: string) =>
  new OpenAI({
    apiKey: 'sk-test',
    baseURL: `${h.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { 'x-immune-agent': agent },
  });

const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

describe('gateway enforcement on real NATS', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('refuses a quarantined agent from the next request after the KV change, and releases at once', async () => {
    h = await startHarness({ nats: true });
    const agent = client(h, 'patient-zero');
    const other = client(h, 'healthy-one');
    await expect(agent.chat.completions.create(ask)).resolves.toBeTruthy();

    const kv = await h.bus.kv(QUARANTINE_BUCKET);
    await kv.put('patient-zero', quarantined('patient-zero'));
    // "Within one request": poll with real requests and count how many still got through after the write.
    let leaked = 0;
    let refusal: unknown;
    for (let i = 0; i < 50; i++) {
      const result = await agent.chat.completions.create(ask).catch((e: unknown) => e);
      if (result instanceof OpenAI.APIError) {
        refusal = result;
        break;
      }
      leaked++;
    }
    expect(leaked).toBeLessThanOrEqual(1);
    expect(refusal).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const error = refusal as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(error.status).toBe(403);
    expect(error.code).toBe('agent_quarantined');
    expect(error.message).toMatch(/patient-zero.*quarantined.*incident inf-42.*token explosion/);
    expect(error.headers.get('x-immune-incident')).toBe('inf-42');
    await expect(other.chat.completions.create(ask)).resolves.toBeTruthy();

    await kv.delete('patient-zero');
    let released = false;
    for (let i = 0; i < 50 && !released; i++)
      released = await agent.chat.completions.create(ask).then(
        () => true,
        () => false,
      );
    expect(released).toBe(true);
  });

  it('lets a HEALTHY or PROBATION entry through: only blocked states refuse', async () => {
    h = await startHarness({ nats: true });
    const kv = await h.bus.kv(QUARANTINE_BUCKET);
    await kv.put('on-probation', quarantined('on-probation', 'PROBATION'));
    // The watch delivers in order: once a later entry is seen, the gateway has seen the PROBATION one too.
    await kv.put('barrier', quarantined('barrier'));
    await waitFor(() => h!.gateway.quarantine.blockOf('barrier') !== undefined, 'the barrier entry');
    await expect(client(h, 'on-probation').chat.completions.create(ask)).resolves.toBeTruthy();
  });

  it('ends an open stream cleanly when its agent is quarantined mid-stream', async () => {
    h = await startHarness({ nats: true });
    h.mock.setBehaviour('streamer', { outputTokens: 200, chunkDelayMs: 20 });
    const stream = await client(h, 'streamer').chat.completions.create({ ...ask, stream: true });
    const kv = await h.bus.kv(QUARANTINE_BUCKET);
    let chunks = 0;
    let caught: unknown;
    try {
      for await (const _chunk of stream) {
        chunks++;
        if (chunks === 5) await kv.put('streamer', quarantined('streamer'));
      }
    } catch (error) {
      caught = error;
    }
    expect(chunks).toBeGreaterThanOrEqual(5);
    expect(chunks).toBeLessThan(150);
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    expect((caught as Error).message).toMatch(/quarantined/);
    const [vital] = await vitalsFor(h, 1);
    expect(vital).toMatchObject({ agent_id: 'streamer', success: false, error_type: 'agent_quarantined' });
    await waitFor(() => h!.mock.abortedStreams >= 1, 'the upstream stream to be aborted');
    expect(h.mock.abortedStreams).toBe(1);
  });

  it('buffers vitals while NATS is down and publishes them when it returns, without failing a request', async () => {
    const server = await OwnNatsServer.start();
    try {
      h = await startHarness({
        env: {},
        bus: await (await import('@immune/bus')).connectNatsBus({
          url: server.url,
          prefix: 'outage',
          publishTimeoutMs: 300,
        }),
      });
      const agent = client(h, 'during-outage');
      await agent.chat.completions.create(ask);
      await vitalsFor(h, 1);
      await server.kill();
      for (let i = 0; i < 5; i++) await expect(agent.chat.completions.create(ask)).resolves.toBeTruthy();
      expect(h.gateway.publisher.stats.buffered).toBeGreaterThanOrEqual(1);
      await server.resume();
      await vitalsFor(h, 6, 20_000);
      expect(h.gateway.publisher.stats).toMatchObject({ buffered: 0, dropped: 0 });
    } finally {
      await h?.close().catch(() => undefined);
      await h?.bus.drain().catch(() => undefined);
      h = undefined;
      await server.stop();
    }
  }, 60_000);
});

describe('quarantine of a call in flight, on real NATS', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('refuses and cancels a call that is still waiting for the provider when the quarantine lands', async () => {
    h = await startHarness({ nats: true });
    const harness = h;
    harness.mock.setBehaviour('waiting', { latencyMs: 5000 });
    const pending = client(harness, 'waiting')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    await waitFor(
      () => harness.mock.requests.some((r) => r.headers['x-immune-agent'] === 'waiting'),
      'the request to reach the provider',
    );
    expect(harness.gateway.quarantine.openCalls('waiting')).toBe(1);
    await (await harness.bus.kv(QUARANTINE_BUCKET)).put('waiting', quarantined('waiting'));
    const error = await pending;
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('agent_quarantined');
    const [vital] = await vitalsFor(harness, 1);
    expect(vital).toMatchObject({ agent_id: 'waiting', success: false, error_type: 'agent_quarantined' });
    await waitFor(() => harness.mock.abortedRequests >= 1, 'the provider request to be cancelled');
    expect(harness.gateway.quarantine.openCalls('waiting')).toBe(0);
  });
});
