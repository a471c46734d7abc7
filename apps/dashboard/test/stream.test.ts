import { eventually } from '@immune/bus/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHarness, jsonOf, OPERATOR_TOKEN, startDashboardHarness } from './harness.js';
import { readFrames } from './sse-reader.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness({
    DASHBOARD_STREAM_FRAME_MS: '400',
    DASHBOARD_STREAM_HEARTBEAT_MS: '1000',
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

async function openStream(headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(`${h.url}/api/stream`, { headers, signal: controller.signal });
  return { response, ...readFrames(response.body!), close: () => controller.abort() };
}

const quarantineEntry = (agent: string) => ({
  agent_id: agent,
  state: 'QUARANTINED' as const,
  reason: 'test',
  since: Date.now(),
  by: 'operator' as const,
});

describe('GET /api/stream', () => {
  it('says hello with retry and ids, then sends bus events and quarantine changes as update frames', async () => {
    const cookie = await h.login();
    const stream = await openStream({ cookie });
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await eventually(() => expect(stream.frames.map((f) => f.event)).toContain('hello'));
    expect(stream.retry[0]).toBeGreaterThan(0);
    const hello = JSON.parse(stream.frames[0]!.data);
    expect(hello).toMatchObject({ boot: h.dashboard.hub.boot, bus: 'connected' });

    await h.bus.publishEvent('agent.discovered', 'sse-agent', {
      agent_id: 'sse-agent',
      source: 'gateway',
      identity: 'header',
    });
    const kv = await h.bus.kv((await import('@immune/bus')).QUARANTINE_BUCKET);
    await kv.put('sse-agent', quarantineEntry('sse-agent'));
    await eventually(() => {
      const updates = stream.frames.filter((f) => f.event === 'update').map((f) => JSON.parse(f.data));
      expect(updates.flatMap((u) => u.events).map((e: { type: string }) => e.type)).toContain(
        'agent.discovered',
      );
      expect(updates.some((u) => u.quarantine['sse-agent']?.state === 'QUARANTINED')).toBe(true);
    }, 10_000);
    await kv.delete('sse-agent');
    await eventually(() => {
      const updates = stream.frames.filter((f) => f.event === 'update').map((f) => JSON.parse(f.data));
      expect(updates.some((u) => 'sse-agent' in u.quarantine && u.quarantine['sse-agent'] === null)).toBe(
        true,
      );
    }, 10_000);
    for (const frame of stream.frames)
      expect(frame.id).toMatch(new RegExp(`^${h.dashboard.hub.boot}\\.\\d+$`));
    stream.close();
  });

  it('coalesces a burst into frames at least the frame interval apart, and beats while idle', async () => {
    const stream = await openStream({ authorization: `Bearer ${OPERATOR_TOKEN}` });
    await eventually(() => expect(stream.frames.length).toBeGreaterThan(0));
    const total = 60;
    for (let i = 0; i < total; i++) {
      await h.bus.publishEvent('agent.discovered', `burst-${i}`, {
        agent_id: `burst-${i}`,
        source: 'gateway',
        identity: 'header',
      });
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const delivered = () =>
      stream.frames
        .filter((f) => f.event === 'update')
        .flatMap((f) => JSON.parse(f.data).events)
        .filter((e: { agentId: string }) => e.agentId.startsWith('burst-')).length;
    await eventually(() => expect(delivered()).toBe(total), 15_000);
    const updates = stream.frames
      .filter((f) => f.event === 'update')
      .map((f) => JSON.parse(f.data) as { ts: number });
    expect(updates.length).toBeLessThan(total);
    for (let i = 1; i < updates.length; i++) {
      // The server's send times: a loaded client may read two frames at once, the server never sends them
      // closer than the interval (timers never fire early; the slack is the clocks' millisecond rounding).
      expect(updates[i]!.ts - updates[i - 1]!.ts).toBeGreaterThanOrEqual(400 - 5);
    }
    await eventually(() => expect(stream.frames.map((f) => f.event)).toContain('heartbeat'), 10_000);
    stream.close();
  });

  it('needs a session or a token', async () => {
    const response = await fetch(`${h.url}/api/stream`);
    expect(response.status).toBe(401);
  });
});

describe('reads', () => {
  it('serves the OpenAPI document with every API route', async () => {
    const response = await fetch(`${h.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    const doc = await jsonOf(response);
    for (const path of [
      '/api/session',
      '/api/agents',
      '/api/agents/{agentId}',
      '/api/approvals',
      '/api/decisions/{decision}',
      '/api/feedback',
      '/api/stream',
      '/api/overview',
      '/api/patterns',
    ]) {
      expect(Object.keys(doc.paths as object), path).toContain(path);
    }
  });

  it('answers the read routes from the healer and PostgreSQL', async () => {
    const get = async (path: string) => {
      const response = await fetch(`${h.url}${path}`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      return { status: response.status, body: await jsonOf(response) };
    };
    expect((await get('/api/agents')).body).toEqual({ agents: [] });
    expect((await get('/api/approvals?status=rejected')).body).toEqual({ approvals: [] });
    const overview = await get('/api/overview?window=15m');
    expect(overview.status).toBe(200);
    expect(overview.body).toMatchObject({ window: '15m', agents: { total: 0 }, calls: 0, infections: 0 });
    expect((await get('/api/overview?window=2y')).status).toBe(400);
    expect((await get('/api/agents/nobody')).status).toBe(404);
    expect((await get('/api/incidents/nothing')).status).toBe(404);
    expect((await get('/api/patterns')).body.cells).toEqual([]);
  });
});
