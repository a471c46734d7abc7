import { eventually } from '@immune/bus/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_OPERATOR_TOKEN, type Loop, scriptedExecutor, startLoop } from './harness.js';

/**
 * The gateway's management API quarantines and releases an agent by hand through the real healer (its manual
 * containment command, with the caller's operator token), on real NATS and PostgreSQL: the healer checks the
 * token and records the operator's name; the gateway refuses the agent's next call at once.
 */
describe('hand containment from the gateway management API, executed by the healer', {
  timeout: 120_000,
}, () => {
  let loop: Loop;
  beforeAll(async () => {
    loop = await startLoop({ executor: scriptedExecutor(() => true), gateway: true });
  }, 120_000);
  afterAll(async () => loop?.close());

  const api = (method: string, path: string, body?: unknown, token = E2E_OPERATOR_TOKEN) =>
    fetch(`${loop.gateway!.url}/api/gateway${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const chat = async (agent: string) => {
    const res = await fetch(`${loop.gateway!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-immune-agent': agent },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    return { status: res.status, text: await res.text() };
  };

  it('quarantines by hand with the operator named, refuses the next call, and releases', async () => {
    expect((await chat('hand-1')).status).toBe(200);

    const created = await api('POST', '/quarantine/hand-1', {});
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      agent_id: 'hand-1',
      state: 'QUARANTINED',
      by: 'operator',
      reason: 'quarantined by e2e-operator',
    });
    const refused = await chat('hand-1');
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/quarantined by e2e-operator/);
    expect((await loop.quarantineEntry('hand-1'))?.by).toBe('operator');
    await eventually(() => expect(loop.eventsOf('quarantine.applied', 'hand-1')).toHaveLength(1), 15_000);
    // A second hand quarantine of a held agent changes nothing and says so.
    expect((await api('POST', '/quarantine/hand-1', { reason: 'again' })).status).toBe(200);

    expect((await api('DELETE', '/quarantine/hand-1')).status).toBe(204);
    expect(await loop.quarantineEntry('hand-1')).toBeUndefined();
    expect((await chat('hand-1')).status).toBe(200);
    await eventually(() => expect(loop.eventsOf('quarantine.released', 'hand-1')).toHaveLength(1), 15_000);
    expect((await api('DELETE', '/quarantine/hand-1')).status).toBe(404);
  });

  it('refuses a token nobody configured, before anything changes', async () => {
    const refused = await api('POST', '/quarantine/hand-2', {}, 'imo_not-a-configured-token');
    expect(refused.status).toBe(401);
    expect(await loop.quarantineEntry('hand-2')).toBeUndefined();
  });
});
