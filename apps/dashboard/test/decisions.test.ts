import { eventually } from '@immune/bus/testing';
import { buildInfectionReport } from '@immune/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHarness, jsonOf, OPERATOR_TOKEN, startDashboardHarness } from './harness.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness();
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const severeCase = async (agentId: string) => {
  const report = buildInfectionReport({
    id: `inf-${h.prefix}-${agentId}`,
    agentId,
    ts: Date.now(),
    anomalies: [{ type: 'cost_spike', metric: 'cost', observed: 9, expected: 1, sigma: 7 }],
  });
  await h.bus.publishEvent('infection.detected', agentId, report);
  return report;
};

describe('the status filter of a bulk decision', () => {
  it('heals the rejected cases by default and the pending ones only when asked', async () => {
    const rejected = await severeCase('bulk-rejected');
    const pending = await severeCase('bulk-pending');
    await eventually(async () => {
      const listed = await fetch(`${h.url}/api/approvals?status=pending`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      const text = JSON.stringify(await jsonOf(listed));
      expect(text).toContain(rejected.id);
      expect(text).toContain(pending.id);
    }, 20_000);
    expect((await post('/api/decisions/reject', { agent_id: 'bulk-rejected' })).status).toBe(200);

    const byDefault = await jsonOf(await post('/api/decisions/heal/preview', { all: true }));
    expect(byDefault.cases).toMatchObject([{ agent_id: 'bulk-rejected', status: 'rejected' }]);
    const asked = await jsonOf(await post('/api/decisions/heal/preview', { all: true, status: 'pending' }));
    expect(asked.cases).toMatchObject([{ agent_id: 'bulk-pending', status: 'pending' }]);

    const healedPending = await post('/api/decisions/heal', { all: true, status: 'pending' });
    expect(healedPending.status).toBe(200);
    expect((await jsonOf(healedPending)).decided).toMatchObject([
      { agent_id: 'bulk-pending', infection_id: pending.id, decided_by: 'alice' },
    ]);
    const healedRejected = await jsonOf(await post('/api/decisions/heal', { all: true }));
    expect(healedRejected.decided).toMatchObject([{ agent_id: 'bulk-rejected', infection_id: rejected.id }]);
  });

  it('names a status no decision takes, one a decision never takes, and a status with no target', async () => {
    const unknown = await post('/api/decisions/heal', { all: true, status: 'approved' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await jsonOf(unknown))).toContain('body.status');
    const never = await post('/api/decisions/approve', { all: true, status: 'rejected' });
    expect(never.status).toBe(400);
    expect(JSON.stringify(await jsonOf(never))).toContain('approve takes pending cases, never rejected ones');
    const alone = await post('/api/decisions/heal', { status: 'pending' });
    expect(alone.status).toBe(400);
    expect(JSON.stringify(await jsonOf(alone))).toContain('must name exactly one');
  });
});
