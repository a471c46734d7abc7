import { SENTINEL_LIFECYCLE } from '@immune/bus';
import { hashOperatorToken, mintOperatorToken, operatorTokenLine } from '@immune/runtime';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

const TOKEN = mintOperatorToken();
const VIEWER = mintOperatorToken();
const OPERATOR_TOKENS = [
  operatorTokenLine({ name: 'alice', role: 'operator', hash: hashOperatorToken(TOKEN) }),
  operatorTokenLine({ name: 'victor', role: 'viewer', hash: hashOperatorToken(VIEWER) }),
].join(',');

describe('management API', () => {
  let h: Harness;
  const api = (method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
    fetch(`${h.url}/api/gateway${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    h = await startHarness({ env: { IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKENS } });
    const agent = new OpenAI({
      apiKey: 'sk-x',
      baseURL: `${h.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-immune-agent': 'ops-agent' },
    });
    await agent.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
  });
  afterAll(async () => h.close());

  it('is closed without the operator token, and says so', async () => {
    expect((await api('GET', '/agents', undefined, null)).status).toBe(401);
    expect((await api('GET', '/agents', undefined, 'wrong-token-wrong-token')).status).toBe(401);
    const closed = await startHarness();
    try {
      const response = await fetch(`${closed.url}/api/gateway/agents`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'management_disabled' } });
    } finally {
      await closed.close();
    }
  });

  it('lists agents, stats and recent vitals', async () => {
    const agents = (await (await api('GET', '/agents')).json()) as {
      agents: Array<{ agent_id: string; requests: number }>;
    };
    expect(agents.agents).toEqual([
      expect.objectContaining({ agent_id: 'ops-agent', requests: 1, quarantined: false }),
    ]);
    expect(await (await api('GET', '/stats')).json()).toMatchObject({
      agents: 1,
      requests: 1,
      providers: 3,
      bus: 'connected',
    });
    const vitals = (await (await api('GET', '/agent/ops-agent/vitals')).json()) as { vitals: unknown[] };
    expect(vitals.vitals).toHaveLength(1);
    expect((await api('GET', '/agent/nobody/vitals')).status).toBe(404);
  });

  it('lets a viewer read, not change; a hand quarantine goes to the healer, which is not running here', async () => {
    expect((await api('GET', '/quarantine', undefined, VIEWER)).status).toBe(200);
    const denied = await api('POST', '/quarantine/ops-agent', { reason: 'viewer tries' }, VIEWER);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      error: { code: 'forbidden', message: expect.stringMatching(/operator role; victor is a viewer/) },
    });
    // The end-to-end suite (packages/e2e) runs it against the real healer.
    const unserved = await api('POST', '/quarantine/ops-agent', { reason: 'operator saw a loop' });
    expect(unserved.status).toBe(503);
    expect(await unserved.json()).toMatchObject({ error: { code: 'service_unavailable' } });
    expect((await api('DELETE', '/quarantine/ops-agent')).status).toBe(503);
    expect((await api('POST', '/quarantine/ops-agent', { reason: '' })).status).toBe(400);
  });

  it('manages providers and routes, refusing what would break routing', async () => {
    const provider = { name: 'local-vllm', kind: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' };
    expect((await api('POST', '/providers', provider)).status).toBe(201);
    expect(await (await api('GET', '/providers/local-vllm')).json()).toEqual(provider);
    const bad = await api('POST', '/providers', { ...provider, base_url: 'http://user:pw@evil/v1' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: expect.objectContaining({ message: expect.stringMatching(/base_url/) }),
    });
    expect((await api('POST', '/routes', { agent_id: 'x', openai: 'missing' })).status).toBe(400);
    expect((await api('POST', '/routes', { agent_id: 'x', openai: 'local-vllm' })).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await (await api('GET', '/routes')).json()).toEqual({
      routes: [{ agent_id: 'x', openai: 'local-vllm' }],
    });
    expect((await api('DELETE', '/routes/x')).status).toBe(204);
    expect((await api('DELETE', '/providers/local-vllm')).status).toBe(204);
    expect((await api('DELETE', '/providers/openai')).status).toBe(409);
    expect((await api('DELETE', '/providers/nope')).status).toBe(404);
  });

  it('asks the sentinel for lifecycles, and says when it is not there', async () => {
    const missing = await api('GET', '/lifecycle/ops-agent');
    expect(missing.status).toBe(503);
    expect(await missing.json()).toMatchObject({ error: { code: 'sentinel_unavailable' } });
    const sub = await h.bus.handleCommand(SENTINEL_LIFECYCLE, async ({ agent_id }) => ({
      agent_id,
      state: 'HEALTHY' as const,
      entered_at: 1,
      seq: 1,
      history: [],
    }));
    expect(await (await api('GET', '/lifecycle/ops-agent')).json()).toMatchObject({
      agent_id: 'ops-agent',
      state: 'HEALTHY',
      quarantine: null,
    });
    await sub.stop();
  });

  it('serves an OpenAPI document of every management route', async () => {
    const doc = (await (await fetch(`${h.url}/api/gateway/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/gateway/agent/{id}/vitals',
        '/api/gateway/agents',
        '/api/gateway/lifecycle/{id}',
        '/api/gateway/policies',
        '/api/gateway/providers',
        '/api/gateway/providers/{name}',
        '/api/gateway/quarantine',
        '/api/gateway/quarantine/{id}',
        '/api/gateway/routes',
        '/api/gateway/routes/{agent_id}',
        '/api/gateway/stats',
      ].sort(),
    );
  });
});
