import { eventually } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { AgentRepository, ApiKeyRepository } from '@immune/store';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AppHarness, reported, startApp } from './harness.js';

// The machine is shared: wait generously, never a fixed time.
const soon = (check: () => void | Promise<void>) => eventually(check, 20_000);
vi.setConfig({ testTimeout: 30_000 });

let app: AppHarness;
const published: Vital[] = [];
const discovered: string[] = [];

beforeAll(async () => {
  app = await startApp();
  await app.bus.consumeVitals({ durable: 'probe', handler: async (d) => void published.push(d.vital) });
  await app.bus.subscribeEvents({
    types: ['agent.discovered'],
    durable: 'probe',
    deliverFrom: 'all',
    handler: async (e) => void discovered.push(e.agentId),
  });
}, 60_000);

afterAll(async () => {
  await app?.close();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.server.inject({
    method: 'POST',
    url: '/api/v1/ingest',
    headers: { authorization: `Bearer ${app.key}`, ...headers },
    payload: payload as Record<string, unknown>,
  });

const errorOf = (response: { json(): unknown }) =>
  (response.json() as { error: { code: string; message: string; details?: unknown } }).error;

describe('POST /api/v1/ingest', () => {
  it('accepts one vital, fills id, ts, source and the counts an agent may omit, and publishes it', async () => {
    const before = Date.now();
    const { id: _id, ...withoutId } = reported('solo-agent');
    const response = await post(withoutId);
    expect(response.statusCode).toBe(202);
    const body = response.json() as { accepted: number; ids: string[] };
    expect(body.accepted).toBe(1);
    const id = body.ids[0]!;
    await soon(() => expect(published.find((v) => v.id === id)).toBeDefined());
    const vital = published.find((v) => v.id === id)!;
    expect(vital).toMatchObject({
      agent_id: 'solo-agent',
      source: 'ingest',
      total_tokens: 15,
      tool_calls: 0,
      retries: 0,
      cost: 0,
    });
    expect(vital.ts).toBeGreaterThanOrEqual(before);
  });

  it('accepts a batch as an array or as { vitals }, with X-API-Key as well as Bearer', async () => {
    const asArray = [reported('batch-a'), reported('batch-b')];
    const wrapped = { vitals: [reported('batch-a'), reported('batch-c', { ts: Date.now() - 1000 })] };
    const first = await post(asArray);
    const second = await post(wrapped, { authorization: '', 'x-api-key': app.key });
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    const ids = [...asArray, ...wrapped.vitals].map((v) => v.id as string);
    expect([...(first.json().ids as string[]), ...(second.json().ids as string[])]).toEqual(ids);
    await soon(() => expect(published.map((v) => v.id)).toEqual(expect.arrayContaining(ids)));
  });

  it('registers an agent on its first report and announces it once', async () => {
    await post([reported('newcomer'), reported('newcomer')]);
    await post(reported('newcomer'));
    const agent = await new AgentRepository(app.store.db).get('newcomer');
    expect(agent).toBeDefined();
    await soon(() => expect(discovered).toContain('newcomer'));
    expect(discovered.filter((id) => id === 'newcomer')).toHaveLength(1);
  });

  it('refuses a missing, malformed or unknown key with 401, and a revoked one', async () => {
    const missing = await app.server.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      payload: reported('x'),
    });
    expect(missing.statusCode).toBe(401);
    expect(errorOf(missing).code).toBe('UNAUTHORIZED');
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(
      (await post(reported('x'), { authorization: 'Bearer imk_not-a-real-key-at-all' })).statusCode,
    ).toBe(401);
    expect((await post(reported('x'), { authorization: 'Basic Zm9vOmJhcg==' })).statusCode).toBe(401);
    const keys = new ApiKeyRepository(app.store.db);
    const { key, apiKey } = await keys.create({ name: 'soon revoked' });
    expect((await post(reported('x'), { authorization: `Bearer ${key}` })).statusCode).toBe(202);
    await keys.revoke(apiKey.id);
    const revoked = await post(reported('x'), { authorization: `Bearer ${key}` });
    expect(revoked.statusCode).toBe(401);
    expect(errorOf(revoked).message).toContain('not valid');
  });

  it('refuses malformed JSON', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      payload: '{"agent_id": "a", ',
    });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('INVALID_JSON');
  });

  it('names a missing field and an ill-typed one', async () => {
    const { agent_id: _a, ...noAgent } = reported('x');
    const missing = await post(noAgent);
    expect(missing.statusCode).toBe(400);
    expect(errorOf(missing).details).toEqual([{ field: 'body.agent_id', message: 'is required' }]);

    const typed = await post({ vitals: [reported('x'), reported('x', { latency_ms: 'slow' as never })] });
    expect(typed.statusCode).toBe(400);
    expect(errorOf(typed).code).toBe('VALIDATION_FAILED');
    expect(errorOf(typed).message).toContain('body.vitals.1.latency_ms');

    const unknown = await post({ ...reported('x'), colour: 'red' });
    expect(errorOf(unknown).details).toEqual([{ field: 'body.colour', message: 'is not a known field' }]);

    const wrongShape = await app.server.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
      payload: '"just a string"',
    });
    expect(wrongShape.statusCode).toBe(400);
    expect(errorOf(wrongShape).message).toContain('body must be a vital');
    const claimsGateway = await post(reported('x', { source: 'gateway' }));
    expect(claimsGateway.statusCode).toBe(400);
    expect(errorOf(claimsGateway).message).toContain('body.source');
  });

  it('refuses negative tokens, naming the vital and the field', async () => {
    const response = await post([reported('x'), reported('x', { input_tokens: -3 })]);
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).details).toEqual([
      { field: 'body.1.input_tokens', message: expect.stringContaining('0') },
    ]);
  });

  it('refuses a timestamp far in the future, but allows some clock drift', async () => {
    const drift = await post(reported('x', { ts: Date.now() + 60_000 }));
    expect(drift.statusCode).toBe(202);
    const future = await post(reported('x', { ts: Date.now() + 24 * 3_600_000 }));
    expect(future.statusCode).toBe(400);
    expect(errorOf(future).message).toMatch(/body\.ts is \d+ ms in the future/);
  });

  it('refuses a batch with too many vitals', async () => {
    const response = await post(Array.from({ length: 101 }, () => reported('x')));
    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toMatchObject({
      code: 'TOO_MANY_VITALS',
      details: [{ field: 'body', message: expect.stringContaining('at most 100') }],
    });
  });

  it('refuses an empty batch', async () => {
    expect((await post([])).statusCode).toBe(400);
    expect((await post({ vitals: [] })).statusCode).toBe(400);
  });

  it('refuses a whole batch when one vital is bad: nothing of it is published', async () => {
    const batch = [reported('atomic'), reported('atomic'), reported('atomic', { output_tokens: 1.5 })];
    const response = await post(batch);
    expect(response.statusCode).toBe(400);
    // A later good request is the marker: once it is through, the refused batch would have been too.
    const marker = reported('atomic-marker');
    await post(marker);
    await soon(() => expect(published.map((v) => v.id)).toContain(marker.id));
    expect(published.filter((v) => batch.some((b) => b.id === v.id))).toEqual([]);
  });

  it('answers 413 for a body beyond the limit', async () => {
    const small = await startApp({ store: app.store, bodyLimitBytes: 2048 });
    try {
      const response = await small.server.inject({
        method: 'POST',
        url: '/api/v1/ingest',
        headers: { authorization: `Bearer ${small.key}` },
        payload: Array.from({ length: 30 }, () => reported('big')),
      });
      expect(response.statusCode).toBe(413);
      expect(errorOf(response).code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await small.close();
    }
  });
});

describe('POST /api/v1/agents/register', () => {
  const register = (payload: Record<string, unknown>) =>
    app.server.inject({
      method: 'POST',
      url: '/api/v1/agents/register',
      headers: { 'x-api-key': app.key },
      payload,
    });

  it('creates an agent (201), then updates it (200), keeping fields it was not sent', async () => {
    const first = await register({
      agent_id: 'registered-bot',
      name: 'Research bot',
      model: 'gpt-4o',
      mcp_servers: ['github', 'files'],
      tags: ['research'],
      control_url: 'http://127.0.0.1:9000/control',
      pid: 4242,
    });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ created: true, agent: { id: 'registered-bot', pid: 4242 } });
    const second = await register({ agent_id: 'registered-bot', model: 'gpt-4o-mini' });
    expect(second.statusCode).toBe(200);
    expect(second.json().agent).toMatchObject({
      name: 'Research bot',
      model: 'gpt-4o-mini',
      mcp_servers: ['github', 'files'],
      control_url: 'http://127.0.0.1:9000/control',
    });
    await soon(() => expect(discovered).toContain('registered-bot'));
  });

  it('refuses bad registrations, naming the field', async () => {
    const badUrl = await register({ agent_id: 'a', control_url: 'file:///etc/passwd' });
    expect(badUrl.statusCode).toBe(400);
    expect(errorOf(badUrl).message).toContain('body.control_url');
    const badPid = await register({ agent_id: 'a', pid: -1 });
    expect(errorOf(badPid).message).toContain('body.pid');
    const noId = await register({ name: 'x' });
    expect(errorOf(noId).message).toContain('body.agent_id is required');
    const unauthenticated = await app.server.inject({
      method: 'POST',
      url: '/api/v1/agents/register',
      payload: { agent_id: 'a' },
    });
    expect(unauthenticated.statusCode).toBe(401);
  });
});
