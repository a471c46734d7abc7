import { eventually } from '@immune/bus/testing';
import { buildInfectionReport } from '@immune/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The dashboard's own harness: the real dashboard and the real healer on real NATS and PostgreSQL.
import {
  type DashboardHarness,
  OPERATOR_TOKEN,
  startDashboardHarness,
  VIEWER_TOKEN,
} from '../../../apps/dashboard/test/harness.js';
import { run } from '../src/cli.js';
import { memoryIO } from './fixtures.js';

/** The operator commands over the dashboard's HTTP API, as with single-process `pnpm start`. */
describe('immune over the dashboard HTTP API', { timeout: 90_000 }, () => {
  let harness: DashboardHarness;

  const immune = async (token: string, ...argv: string[]) => {
    const io = memoryIO();
    // The dashboard checks the token and forwards it to the healer, which records its name.
    const code = await run([...argv, '--url', harness.url, '--token', token], io);
    return { code, out: io.out(), err: io.err() };
  };

  beforeAll(async () => {
    harness = await startDashboardHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('lists a pending case and approves it as the token operator', async () => {
    const report = buildInfectionReport({
      id: `inf-${harness.prefix}`,
      agentId: 'http-agent',
      ts: Date.now(),
      anomalies: [{ type: 'cost_spike', metric: 'cost', observed: 9, expected: 1, sigma: 7 }],
    });
    await harness.bus.publishEvent('infection.detected', 'http-agent', report);
    await eventually(async () => {
      expect((await immune(OPERATOR_TOKEN, 'pending')).out).toContain('http-agent');
    }, 20_000);
    expect((await immune(OPERATOR_TOKEN, 'pending')).out).toMatch(/http-agent\s+high\s+7\.0\s+cost_spike/);
    const listed = await immune(VIEWER_TOKEN, 'pending', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out).approvals).toMatchObject([{ agent_id: 'http-agent', status: 'pending' }]);

    // A viewer may look, not act: the dashboard's 403 is a failure (exit 1) naming the problem.
    const refused = await immune(VIEWER_TOKEN, 'approve', 'http-agent');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('FORBIDDEN');

    const approved = await immune(OPERATOR_TOKEN, 'approve', 'http-agent', '--json');
    expect(approved.err).toBe('');
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.out).decided).toMatchObject([
      { agent_id: 'http-agent', infection_id: report.id, status: 'approved', decided_by: 'alice' },
    ]);
    const again = await immune(OPERATOR_TOKEN, 'approve', 'http-agent');
    expect(again.out).toBe('http-agent: unchanged, already approved\n');
    expect((await immune(OPERATOR_TOKEN, 'pending')).out).toBe('no pending cases\n');
  });

  it('quarantines and releases, and lists the fleet', async () => {
    expect((await immune(OPERATOR_TOKEN, 'quarantine', 'http-other', '--reason', 'odd')).out).toBe(
      'http-other: quarantined\n',
    );
    const agents = JSON.parse((await immune(VIEWER_TOKEN, 'agents', '--json')).out);
    expect(agents.agents).toContainEqual(
      expect.objectContaining({ agent_id: 'http-other', quarantined: true }),
    );
    expect((await immune(OPERATOR_TOKEN, 'release', 'http-other')).out).toMatch(/^http-other: released/);
  });

  it('names a wrong token, a missing token and an unreachable dashboard', async () => {
    const wrong = await immune('not-a-dashboard-token-at-all', 'pending');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('UNAUTHORIZED');
    expect(wrong.err).toContain('IMMUNE_OPERATOR_TOKEN');

    const io = memoryIO();
    expect(await run(['pending', '--url', harness.url, '--token', ''], io)).toBe(2);
    expect(io.err()).toContain('need an operator token');

    const down = memoryIO();
    // Port 9 (discard) on loopback: nothing listens there.
    expect(await run(['pending', '--url', 'http://127.0.0.1:9', '--token', OPERATOR_TOKEN], down)).toBe(1);
    expect(down.err()).toContain('cannot reach the dashboard at http://127.0.0.1:9');
  });

  it('chooses NATS only when asked for', async () => {
    const io = memoryIO();
    expect(await run(['pending', '--url', harness.url, '--nats', 'nats://127.0.0.1:4222'], io)).toBe(2);
    expect(io.err()).toContain('not both');
  });
});
