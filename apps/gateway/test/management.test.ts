import { SENTINEL_LIFECYCLE } from '@immune/bus';
import { testVital } from '@immune/core/testing';
import { hashOperatorToken, mintOperatorToken, operatorTokenLine } from '@immune/runtime';
import { createRepositories } from '@immune/store';
import { createTestStore, type TestStore } from '@immune/store/testing';
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

  it("lists this replica's agents, stats and recent vitals under /replica", async () => {
    const agents = (await (await api('GET', '/replica/agents')).json()) as {
      agents: Array<{ agent_id: string; requests: number }>;
    };
    expect(agents.agents).toEqual([
      expect.objectContaining({ agent_id: 'ops-agent', requests: 1, quarantined: false }),
    ]);
    expect(await (await api('GET', '/replica/stats')).json()).toMatchObject({
      agents: 1,
      requests: 1,
      providers: 3,
      bus: 'connected',
    });
    const vitals = (await (await api('GET', '/replica/agent/ops-agent/vitals')).json()) as {
      vitals: unknown[];
    };
    expect(vitals.vitals).toHaveLength(1);
    expect((await api('GET', '/replica/agent/nobody/vitals')).status).toBe(404);
    // The fleet view needs the fleet's database, and says so.
    const fleet = await api('GET', '/agents');
    expect(fleet.status).toBe(503);
    expect(await fleet.json()).toMatchObject({
      error: { code: 'fleet_view_unavailable', message: expect.stringMatching(/DATABASE_URL/) },
    });
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
        '/api/gateway/replica/agent/{id}/vitals',
        '/api/gateway/replica/agents',
        '/api/gateway/replica/stats',
        '/api/gateway/routes',
        '/api/gateway/routes/{agent_id}',
        '/api/gateway/stats',
      ].sort(),
    );
  });
});

describe("management API: the fleet view, from the fleet's PostgreSQL", () => {
  let h: Harness;
  let store: TestStore;
  beforeAll(async () => {
    store = await createTestStore();
    h = await startHarness({ env: { IMMUNE_OPERATOR_TOKENS: OPERATOR_TOKENS }, store });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await store?.cleanup();
  });
  const api = (path: string) =>
    fetch(`${h.url}/api/gateway${path}`, { headers: { authorization: `Bearer ${VIEWER}` } });

  it('answers agents, totals and vitals that other replicas published, the same from every replica', async () => {
    // What the ingest recorder stores of the vitals every replica published: two agents this replica never saw.
    const repos = createRepositories(store.db);
    const now = Date.now();
    await repos.agents.register({
      id: 'fleet-a',
      ts: now - 60_000,
      name: 'researcher',
      model: 'gpt-4o-mini',
    });
    await repos.agents.register({ id: 'fleet-b', ts: now - 60_000 });
    await repos.vitals.insertMany([
      testVital({ id: 'fv-1', agent_id: 'fleet-a', ts: now - 3_000, total_tokens: 100, cost: 0.5 }),
      testVital({
        id: 'fv-2',
        agent_id: 'fleet-a',
        ts: now - 2_000,
        total_tokens: 50,
        cost: 0.25,
        success: false,
      }),
      testVital({ id: 'fv-3', agent_id: 'fleet-b', ts: now - 1_000, total_tokens: 10, cost: 0.125 }),
      // Outside the window asked for below.
      testVital({ id: 'fv-0', agent_id: 'fleet-b', ts: now - 7_200_000, total_tokens: 999, cost: 9 }),
    ]);

    const agents = (await (await api(`/agents?since=${now - 3_600_000}`)).json()) as {
      agents: Array<Record<string, unknown>>;
    };
    expect(agents.agents).toEqual([
      expect.objectContaining({
        agent_id: 'fleet-a',
        name: 'researcher',
        requests: 2,
        errors: 1,
        total_tokens: 150,
        cost: 0.75,
        quarantined: false,
      }),
      expect.objectContaining({ agent_id: 'fleet-b', requests: 1, total_tokens: 10, cost: 0.125 }),
    ]);
    expect(await (await api(`/stats?since=${now - 3_600_000}`)).json()).toMatchObject({
      agents: 2,
      requests: 3,
      errors: 1,
      total_tokens: 160,
      quarantined: 0,
    });
    const vitals = (await (await api('/agent/fleet-b/vitals')).json()) as { vitals: Array<{ id: string }> };
    expect(vitals.vitals.map((v) => v.id)).toEqual(['fv-3', 'fv-0']);
    expect((await api('/agent/nobody/vitals')).status).toBe(404);
    expect((await api('/agents?since=-1')).status).toBe(400);
    // This replica itself has seen neither.
    expect(await (await api('/replica/agents')).json()).toEqual({ agents: [] });
  });
});
