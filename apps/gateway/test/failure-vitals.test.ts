import { createServer } from 'node:net';
import type { Vital } from '@immune/core';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitFor } from './harness.js';

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Every call that was sent, or tried to be sent, to a provider leaves exactly one vital with the error type of
 * its failure, is counted once in gateway_requests, and leaves nothing registered behind it.
 */
describe('one vital per call on every failure path', () => {
  let h: Harness;
  const client = (agent: string, timeout?: number) =>
    new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      ...(timeout ? { timeout } : {}),
      defaultHeaders: { 'x-immune-agent': agent },
    });
  const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

  beforeAll(async () => {
    const port = await closedPort();
    h = await startHarness({
      env: {
        GATEWAY_UPSTREAM_HEADERS_TIMEOUT_MS: '1000',
        GATEWAY_PROVIDERS: JSON.stringify([
          { name: 'down', kind: 'openai_compatible', base_url: `http://127.0.0.1:${port}/v1` },
          { name: 'nowhere', kind: 'openai_compatible', base_url: 'http://no-such-host.invalid/v1' },
        ]),
        GATEWAY_ROUTES: JSON.stringify([
          { agent_id: 'refused', openai: 'down' },
          { agent_id: 'dns', openai: 'nowhere' },
        ]),
      },
    });
  });
  afterAll(async () => h.close());

  /**
   * The vitals of `agent` once a later call's vital has arrived: vitals leave in order, so a second vital of
   * the failed call would be there by then.
   */
  async function settledVitals(agent: string): Promise<Vital[]> {
    const marker = `marker-${agent}`;
    await client(marker).chat.completions.create(ask);
    await waitFor(() => h.vitals.some((v) => v.agent_id === marker), `the vital of ${marker}`);
    await waitFor(() => h.gateway.quarantine.inFlight === 0, 'no call in flight');
    return h.vitals.filter((v) => v.agent_id === agent);
  }

  const outcomes = async (outcome: string) => {
    const text = await h.scrape();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('gateway_requests_total{') && l.includes(`outcome="${outcome}"`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('connection refused: a 502 in OpenAI format, one vital upstream_unreachable, counted once', async () => {
    const error = await client('refused')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_unreachable');
    const vitals = await settledVitals('refused');
    expect(vitals).toHaveLength(1);
    expect(vitals[0]).toMatchObject({
      provider: 'down',
      model: 'gpt-4o-mini',
      success: false,
      error_type: 'upstream_unreachable',
      input_tokens: 0,
      output_tokens: 0,
    });
    expect(vitals[0]!.latency_ms).toBeGreaterThan(0);
    expect(await outcomes('upstream_unreachable')).toBeGreaterThanOrEqual(1);
  });

  it('DNS failure: one vital upstream_unreachable', async () => {
    const before = await outcomes('upstream_unreachable');
    const error = await client('dns')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const vitals = await settledVitals('dns');
    expect(vitals.map((v) => [v.provider, v.error_type, v.success])).toEqual([
      ['nowhere', 'upstream_unreachable', false],
    ]);
    expect(await outcomes('upstream_unreachable')).toBe(before + 1);
  });

  it('headers timeout: a 504, one vital upstream_timeout', async () => {
    h.mock.setBehaviour('silent', { latencyMs: 4000 });
    const error = await client('silent')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_timeout');
    const vitals = await settledVitals('silent');
    expect(vitals.map((v) => [v.error_type, v.success])).toEqual([['upstream_timeout', false]]);
    expect(vitals[0]!.latency_ms).toBeGreaterThanOrEqual(1000);
    expect(await outcomes('upstream_timeout')).toBe(1);
    await waitFor(() => h.mock.abortedRequests >= 1, 'the mock to see the timed-out request go');
  });

  it('client abort before the headers: one vital client_aborted, and the provider request is cancelled', async () => {
    h.mock.setBehaviour('impatient', { latencyMs: 4000 });
    const aborted = h.mock.abortedRequests;
    const error = await client('impatient', 300)
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await waitFor(() => h.mock.abortedRequests > aborted, 'the abort to reach the provider');
    const vitals = await settledVitals('impatient');
    expect(vitals.map((v) => [v.error_type, v.success])).toEqual([['client_aborted', false]]);
  });

  it('provider errors: the most specific error field names the vital, in every wire format', async () => {
    h.mock.setBehaviour('limited', 'rate_limited');
    const limited = await client('limited')
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
    h.mock.setBehaviour('broken', { errorStatus: 500, errorRate: 1 });
    await client('broken')
      .chat.completions.create(ask)
      .catch(() => undefined);
    h.mock.setBehaviour('overloaded', { errorStatus: 503, errorRate: 1 });
    const anthropic = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'x-immune-agent': 'overloaded' },
      body: JSON.stringify({ model: 'claude-3-5-haiku-latest', max_tokens: 10, messages: [] }),
    });
    expect(anthropic.status).toBe(529);
    const errors = async (agent: string) => (await settledVitals(agent)).map((v) => v.error_type);
    expect(await errors('limited')).toEqual(['rate_limit_exceeded']);
    expect(await errors('broken')).toEqual(['server_error']);
    expect(await errors('overloaded')).toEqual(['overloaded_error']);
  });

  it('a stream the provider breaks off: one vital upstream_stream_error', async () => {
    h.mock.setBehaviour('cut', { breakStreamAfterEvents: 3 });
    const error = await (async () => {
      for await (const _ of await client('cut').chat.completions.create({ ...ask, stream: true })) {
        // read until the break
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const vitals = await settledVitals('cut');
    expect(vitals.map((v) => [v.error_type, v.success])).toEqual([['upstream_stream_error', false]]);
  });

  it('a client hanging up on its own stream: one vital client_aborted that counts as a success', async () => {
    h.mock.setBehaviour('reader', { outputTokens: 200, chunkDelayMs: 10 });
    const controller = new AbortController();
    let chunks = 0;
    await (async () => {
      const stream = await client('reader').chat.completions.create(
        { ...ask, stream: true },
        { signal: controller.signal },
      );
      for await (const _ of stream) if (++chunks === 3) controller.abort();
    })().catch(() => undefined);
    const vitals = await settledVitals('reader');
    expect(vitals.map((v) => [v.error_type, v.success])).toEqual([['client_aborted', true]]);
  });
});
