import type { EventEnvelope } from '@immune/bus';
import { eventually } from '@immune/bus/testing';
import { createRepositories } from '@immune/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Body,
  type DashboardHarness,
  type HarnessSentinel,
  jsonOf,
  OPERATOR_TOKEN,
  PARTITIONS,
  startDashboardHarness,
} from './harness.js';
import { vital } from './vitals.js';

/**
 * Two sentinels split the partitions; the agent lives in one of them. What the dashboard shows of the agent's
 * triage state (probation, baselines) must not depend on which instance answers its query, and an operator's
 * decision must not fail when the healer's lifecycle trigger lands on the instance that does not own the agent.
 */
let h: DashboardHarness;
let watcher: { stop(): Promise<void> } | undefined;
const events: EventEnvelope[] = [];
const agent = 'split-agent';
// Probation outlasts the test, so the agent stays in PROBATION while each instance is asked about it.
const sentinelEnv = { SENTINEL_PROBATION_MS: '600000', SENTINEL_PROBATION_MIN_VITALS: '3' };
let ownerPartitions: string;
let otherPartitions: string;

beforeAll(async () => {
  h = await startDashboardHarness({}, { healerEnv: { HEALER_RECONCILE_MS: '300' } });
  watcher = await h.bus.subscribeEvents({ handler: async (event) => void events.push(event) });
  // As the SDK registers it through ingest: the healer's agent list (and so the agent page) reads the registry.
  await createRepositories(h.store.db).agents.register({ id: agent, ts: Date.now(), model: 'gpt-4o-mini' });
  const home = h.bus.topology.partitionOf(agent);
  ownerPartitions = String(home);
  otherPartitions = Array.from({ length: PARTITIONS }, (_, p) => p)
    .filter((p) => p !== home)
    .join(',');
}, 60_000);
afterAll(async () => {
  await watcher?.stop();
  await h?.close();
}, 60_000);

const startOwner = () =>
  h.startSentinel({ ...sentinelEnv, SENTINEL_PARTITIONS: ownerPartitions, SENTINEL_INSTANCE_ID: 'owner' });
const startOther = () =>
  h.startSentinel({ ...sentinelEnv, SENTINEL_PARTITIONS: otherPartitions, SENTINEL_INSTANCE_ID: 'other' });

const get = async (path: string): Promise<Body> => {
  const response = await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const body = await jsonOf(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
};
const post = (path: string, body: unknown) =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const moves = () =>
  events.flatMap((e) => (e.type === 'lifecycle.changed' && e.agentId === agent ? [e.data.to] : []));

/** The three views of the agent's triage state the dashboard serves: its page, its chart, the raw answer. */
const triageViews = async () => {
  const [page, series, lifecycle] = await Promise.all([
    get(`/api/agents/${agent}`),
    get(`/api/agents/${agent}/series`),
    get(`/api/agents/${agent}/lifecycle`),
  ]);
  return { probation: page.probation, baselines: series.baselines, lifecycle };
};

describe("the agent's sentinel view with the partitions split between two sentinels", {
  timeout: 90_000,
}, () => {
  let owner: HarnessSentinel;
  let other: HarnessSentinel;

  it('approves a case while only the non-owner runs: 200, and healing starts once the owner is back', async () => {
    owner = await startOwner();
    other = await startOther();
    const end = Date.now() - 500;
    for (let i = 0; i < 20; i++) await h.bus.publishVital(vital(agent, end - (20 - i) * 100));
    await eventually(() => expect(moves()).toContain('HEALTHY'), 20_000);
    const now = Date.now();
    for (let i = 0; i < 4; i++) await h.bus.publishVital(vital(agent, now + i * 10, 3));
    await eventually(() => expect(moves()).toContain('QUARANTINED'), 20_000);
    await eventually(async () => {
      const pending = await get('/api/approvals?status=pending');
      expect(JSON.stringify(pending)).toContain(agent);
    }, 20_000);

    // The owner goes away: every lifecycle request now reaches the instance that does not own the agent.
    await owner.stop();
    const approved = await post('/api/decisions/approve', { agent_id: agent });
    const decision = await jsonOf(approved);
    expect(approved.status, JSON.stringify(decision)).toBe(200);
    expect(decision.decided).toMatchObject([{ agent_id: agent, decided_by: 'alice' }]);
    // The healer's healing_started was refused (not_owner) and left for its reconcile timer: the agent is still
    // quarantined, and every page that asks the sentinel about it still answers, from the owner's checkpoint.
    await eventually(() =>
      expect(h.healerLogs.entries()).toContainEqual(
        expect.objectContaining({ event: 'healing-start-not-applied', agent_id: agent, code: 'not_owner' }),
      ),
    );
    const waiting = await triageViews();
    expect(waiting.lifecycle).toMatchObject({ agent_id: agent, state: 'QUARANTINED' });
    expect(waiting.baselines).toMatchObject({ kind: 'llm' });
    expect(waiting.probation).toBeNull();
    expect(moves()).not.toContain('HEALING');

    // The owner is back: the healer's reconcile sends the trigger again and the cure runs.
    owner = await startOwner();
    await eventually(() => expect(moves()).toContain('PROBATION'), 30_000);
  });

  it("shows the same probation and baselines whether the owner answers or the other instance, from the owner's checkpoint", async () => {
    await other.stop();
    const fromOwner = await triageViews();
    expect(fromOwner.lifecycle).toMatchObject({ agent_id: agent, state: 'PROBATION' });
    const enteredAt = fromOwner.lifecycle.entered_at as number;
    expect(fromOwner.probation).toEqual({ clean_vitals: 0, min_vitals: 3, ends_at: enteredAt + 600_000 });
    expect(fromOwner.baselines).toMatchObject({
      kind: 'llm',
      metrics: { total_tokens: { typical: expect.any(Number), young: false } },
    });

    other = await startOther();
    await owner.stop();
    const fromOther = await triageViews();
    expect(fromOther).toEqual(fromOwner);
  });
});
