import { GATEWAY_BUCKET, gatewayKey } from '@immune/bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWireFixture, type WireFixture } from './fixtures/wire-server.js';
import { type Harness, startHarness, vitalsWhere, waitFor } from './harness.js';

let wire: WireFixture;
let harness: Harness;

beforeAll(async () => {
  wire = await startWireFixture();
  harness = await startHarness({
    nats: true,
    env: { MCP_UPSTREAM_URL: wire.url, MCP_UPSTREAM_NAME: 'wire' },
  });
});
afterAll(async () => {
  await harness?.close();
  await wire?.close();
});

const call = (id: string | number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function send(agent: string, method: string, body?: unknown) {
  return fetch(`${harness.url}/wire`, {
    method,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-immune-agent': agent,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('quarantine', () => {
  it('refuses POST and GET with 403 JSON-RPC errors echoing the ids, lets DELETE through', async () => {
    const agent = 'sick-1';
    await harness.quarantine(agent);
    try {
      const single = await send(agent, 'POST', call(7, 'echo', { text: 'x' }));
      expect(single.status).toBe(403);
      expect(single.headers.get('content-type')).toMatch(/^application\/json/);
      expect(single.headers.get('www-authenticate')).toBeNull();
      expect(await single.json()).toEqual({
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -31001,
          message: `agent ${agent} is quarantined: token explosion`,
          data: expect.objectContaining({ agent_id: agent, incident_id: 'inf-42', state: 'QUARANTINED' }),
        },
      });
      const batch = await send(agent, 'POST', [
        call('a', 'echo'),
        { jsonrpc: '2.0', method: 'notifications/x' },
        call(2, 'echo'),
      ]);
      expect(batch.status).toBe(403);
      expect(((await batch.json()) as Array<{ id: unknown }>).map((e) => e.id)).toEqual(['a', 2]);
      expect((await send(agent, 'GET')).status).toBe(403);
      expect((await send(agent, 'DELETE')).status).toBe(204);
      const vitals = await vitalsWhere(harness, 3, (v) => v.agent_id === agent);
      expect(vitals.every((v) => v.error_type === 'agent_quarantined' && !v.success)).toBe(true);
    } finally {
      await harness.release(agent);
    }
    expect((await send(agent, 'POST', call(8, 'echo', { text: 'back' }))).status).toBe(200);
  });

  it('cuts an open stream at an event boundary with an error for each pending id', async () => {
    const agent = 'sick-2';
    const response = await send(
      agent,
      'POST',
      call('slow-1', 'echo', { text: 'never', sse: true, ms: 2000 }),
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain('notifications/progress');
    await harness.quarantine(agent);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    harness.release(agent).catch(() => undefined);
    const events = text.split('\n\n').filter((e) => e !== '');
    expect(events).toHaveLength(2);
    const cut = JSON.parse((events[1] as string).replace(/^event: message\ndata: /, '')) as Record<
      string,
      unknown
    >;
    expect(cut).toMatchObject({ id: 'slow-1', error: { code: -31001 } });
    const [vital] = await vitalsWhere(harness, 1, (v) => v.agent_id === agent);
    expect(vital).toMatchObject({ success: false, error_type: 'agent_quarantined', tool_name: 'echo' });
    await waitFor(() => harness.replicas[0]?.proxy.quarantine.openStreams(agent) === 0);
  });
});

describe('tool policy from the immune_gateway bucket', () => {
  it('refuses denied tools and tools revoked by the healer, naming the rule', async () => {
    const gateway = await harness.bus.kv(GATEWAY_BUCKET);
    await gateway.put(gatewayKey.policy('no-shell'), {
      kind: 'policy',
      policy: {
        id: 'no-shell',
        scope: { kind: 'global' },
        rules: { deny_tools: ['shell'] },
        source: 'operator',
      },
    });
    await gateway.put(gatewayKey.policy('healer-x-strip_tools'), {
      kind: 'policy',
      policy: {
        id: 'healer-x-strip_tools',
        scope: { kind: 'agent', agent_id: 'revoked' },
        rules: { strip_tools: true },
        source: 'healer',
        reason: 'prompt_injection: strip_tools',
      },
    });
    try {
      await waitFor(
        () => harness.replicas[0]?.proxy.policy.check('x', undefined, 'shell', Date.now()) !== undefined,
      );
      const denied = await send('polite', 'POST', call(1, 'shell'));
      expect(denied.status).toBe(200);
      expect(await denied.json()).toMatchObject({
        id: 1,
        error: { code: -31002, data: { rule: 'deny_tools', policy: 'no-shell', tool: 'shell' } },
      });
      expect((await send('polite', 'POST', call(2, 'echo', { text: 'ok' }))).status).toBe(200);
      const revoked = await send('revoked', 'POST', call(3, 'echo', { text: 'no' }));
      expect(await revoked.json()).toMatchObject({ error: { data: { rule: 'strip_tools' } } });
      const vitals = await vitalsWhere(harness, 2, (v) => v.agent_id === 'polite');
      expect(vitals.map((v) => v.error_type).sort()).toEqual(['jsonrpc_-31002', undefined]);
    } finally {
      await gateway.delete(gatewayKey.policy('no-shell'));
      await gateway.delete(gatewayKey.policy('healer-x-strip_tools'));
    }
  });
});
