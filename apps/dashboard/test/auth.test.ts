import { eventually } from '@immune/bus/testing';
import { buildInfectionReport } from '@immune/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DashboardHarness,
  jsonOf,
  OPERATOR_TOKEN,
  startDashboardHarness,
  VIEWER_TOKEN,
} from './harness.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness({ DASHBOARD_LOGIN_RATE_PER_MINUTE: '20' });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const json = (body: unknown) => JSON.stringify(body);

describe('sessions', () => {
  it('refuses every API route without a session or token, and names the way in', async () => {
    for (const path of ['/api/agents', '/api/approvals', '/api/session', '/api/stream', '/api/overview']) {
      const response = await fetch(`${h.url}${path}`);
      expect(response.status, path).toBe(401);
      expect((await jsonOf(response)).error.code).toBe('UNAUTHORIZED');
    }
  });

  it('exchanges a token for a signed, HttpOnly, SameSite=Strict cookie and knows who is logged in', async () => {
    const response = await fetch(`${h.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: h.origin },
      body: json({ token: OPERATOR_TOKEN }),
    });
    expect(response.status).toBe(200);
    expect((await jsonOf(response)).operator).toMatchObject({ name: 'alice', role: 'operator' });
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^immune_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(OPERATOR_TOKEN);
    const me = await fetch(`${h.url}/api/session`, { headers: { cookie: cookie.split(';')[0]! } });
    expect((await jsonOf(me)).operator).toMatchObject({ name: 'alice', role: 'operator' });
  });

  it('refuses a wrong token, a tampered cookie and a login from another origin', async () => {
    const wrong = await fetch(`${h.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: h.origin },
      body: json({ token: 'not-a-token-at-all-really' }),
    });
    expect(wrong.status).toBe(401);
    expect((await jsonOf(wrong)).error.code).toBe('INVALID_TOKEN');

    const cookie = await h.login(VIEWER_TOKEN);
    const [name, value] = cookie.split('=') as [string, string];
    const [body, signature] = value.split('.') as [string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), sub: 'alice' }),
    ).toString('base64url');
    const tampered = await fetch(`${h.url}/api/session`, {
      headers: { cookie: `${name}=${forged}.${signature}` },
    });
    expect(tampered.status).toBe(401);

    const foreign = await fetch(`${h.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: json({ token: OPERATOR_TOKEN }),
    });
    expect(foreign.status).toBe(403);
    expect((await jsonOf(foreign)).error.code).toBe('CSRF_REFUSED');
  });

  it('logs out', async () => {
    const cookie = await h.login();
    const out = await fetch(`${h.url}/api/session`, {
      method: 'DELETE',
      headers: { cookie, origin: h.origin },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/immune_session=;/);
  });
});

describe('CSRF and roles', () => {
  const approve = (headers: Record<string, string>, body: unknown = { agent_id: 'nobody' }) =>
    fetch(`${h.url}/api/decisions/approve`, { method: 'POST', headers, body: json(body) });

  it('refuses a cookie state change without Origin, from another origin, or not as JSON', async () => {
    const cookie = await h.login();
    const missing = await approve({ cookie, 'content-type': 'application/json' });
    expect(missing.status).toBe(403);
    expect((await jsonOf(missing)).error.code).toBe('CSRF_REFUSED');
    const foreign = await approve({
      cookie,
      'content-type': 'application/json',
      origin: 'http://evil.example',
    });
    expect(foreign.status).toBe(403);
    const form = await approve({ cookie, 'content-type': 'text/plain', origin: h.origin });
    expect(form.status).toBe(415);
    expect((await jsonOf(form)).error.code).toBe('JSON_REQUIRED');
    // The same request done right reaches the healer, which knows no such case.
    const right = await approve({ cookie, 'content-type': 'application/json', origin: h.origin });
    expect(right.status).toBe(404);
    expect((await jsonOf(right)).error.code).toBe('NOT_FOUND');
  });

  it('accepts a bearer token without cookie or Origin (scripts, the immune CLI)', async () => {
    const response = await approve({
      authorization: `Bearer ${OPERATOR_TOKEN}`,
      'content-type': 'application/json',
    });
    expect(response.status).toBe(404);
    const bad = await approve({
      authorization: 'Bearer nope-nope-nope-nope',
      'content-type': 'application/json',
    });
    expect(bad.status).toBe(401);
  });

  it('lets a viewer look but not decide (403), with a cookie or a bearer token', async () => {
    const cookie = await h.login(VIEWER_TOKEN);
    expect((await fetch(`${h.url}/api/approvals`, { headers: { cookie } })).status).toBe(200);
    const byCookie = await approve({ cookie, 'content-type': 'application/json', origin: h.origin });
    expect(byCookie.status).toBe(403);
    expect((await jsonOf(byCookie)).error.code).toBe('FORBIDDEN');
    const byBearer = await approve({
      authorization: `Bearer ${VIEWER_TOKEN}`,
      'content-type': 'application/json',
    });
    expect(byBearer.status).toBe(403);
    for (const path of [
      '/api/feedback',
      '/api/agents/a/quarantine',
      '/api/agents/a/release',
      '/api/decisions/heal/preview',
    ]) {
      const response = await fetch(`${h.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' },
        body: json({}),
      });
      expect(response.status, path).toBe(403);
    }
  });
});

describe('the operator the healer records', () => {
  it("is the logged-in session's token name: the dashboard forwards the token, the healer checks it", async () => {
    const agentId = 'session-agent';
    const report = buildInfectionReport({
      id: `inf-${h.prefix}-session`,
      agentId,
      ts: Date.now(),
      anomalies: [{ type: 'cost_spike', metric: 'cost', observed: 9, expected: 1, sigma: 7 }],
    });
    await h.bus.publishEvent('infection.detected', agentId, report);
    const cookie = await h.login(OPERATOR_TOKEN);
    await eventually(async () => {
      const listed = await fetch(`${h.url}/api/approvals?agent_id=${agentId}`, { headers: { cookie } });
      expect(JSON.stringify(await jsonOf(listed))).toContain(report.id);
    }, 20_000);
    const decided = await fetch(`${h.url}/api/decisions/approve`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: h.origin },
      body: json({ agent_id: agentId }),
    });
    expect(decided.status).toBe(200);
    expect((await jsonOf(decided)).decided).toMatchObject([{ agent_id: agentId, decided_by: 'alice' }]);
    // The browser cannot name someone else: the body has no such field.
    const named = await fetch(`${h.url}/api/decisions/reject`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: h.origin },
      body: json({ agent_id: agentId, operator: 'mallory' }),
    });
    expect(named.status).toBe(400);
  });
});

describe('login rate limit', () => {
  it('answers 429 with a JSON error once an address tries too often', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const response = await fetch(`${h.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: h.origin },
        body: json({ token: `wrong-token-${i}-padding` }),
      });
      statuses.push(response.status);
      if (response.status === 429) {
        expect((await jsonOf(response)).error.code).toBe('TOO_MANY_LOGINS');
        break;
      }
    }
    expect(statuses).toContain(429);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(20);
  });
});
