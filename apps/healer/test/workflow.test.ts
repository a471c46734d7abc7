import {
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_INFECTIONS,
  HEALER_REJECT,
} from '@immune/bus';
import { eventually } from '@immune/bus/testing';
import { createRepositories } from '@immune/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedExecutor } from '../src/executors/index.js';
import { as, type Harness, infection, startHarness } from './harness.js';

const WAIT = 20_000;

describe('healer workflow on real NATS and PostgreSQL', { timeout: 90_000 }, () => {
  let h: Harness;
  const op = as('alice');

  beforeAll(async () => {
    h = await startHarness();
    await h.startHealer();
  });
  afterAll(() => h.close());

  const infectionStatus = async (id: string) =>
    (await h.bus.request(HEALER_INFECTIONS, { infection_id: id }, op)).infections[0];

  it('severe: pending -> approve -> healing -> probation -> healthy, and a repeated approve changes nothing', async () => {
    h.sentinel.set('severe-1', 'QUARANTINED');
    const report = infection('severe-1', 6.5);
    await h.bus.publishEvent('infection.detected', 'severe-1', report);

    await eventually(async () => {
      const { approvals } = await h.bus.request(HEALER_APPROVALS, {}, op);
      expect(approvals.map((a) => a.agent_id)).toContain('severe-1');
    }, WAIT);
    const { approvals } = await h.bus.request(HEALER_APPROVALS, { agent_id: 'severe-1' }, op);
    expect(approvals[0]).toMatchObject({ status: 'pending', severity: 'high', max_deviation: 6.5 });
    expect(approvals[0]!.hypotheses[0]!.type).toBe('infinite_loop');
    expect(approvals[0]!.hypotheses.reduce((s, x) => s + x.confidence, 0)).toBeCloseTo(1);
    // Nothing happens to the agent while nobody decided.
    expect(h.sentinel.state('severe-1')).toBe('QUARANTINED');
    expect(h.eventsOf('approval.requested', 'severe-1')).toHaveLength(1);

    const decided = await h.bus.request(HEALER_APPROVE, { agent_id: 'severe-1' }, op);
    expect(decided.decided).toHaveLength(1);

    await eventually(async () => {
      expect((await infectionStatus(report.id))?.status).toBe('resolved');
    }, WAIT);
    expect(h.sentinel.state('severe-1')).toBe('HEALTHY');
    const triggers = h.sentinel.triggers.filter((t) => t.agent_id === 'severe-1');
    expect(triggers.map((t) => t.trigger)).toEqual(['healing_started', 'healing_succeeded']);
    expect(triggers[1]).toMatchObject({ action: 'reset_memory', adapt: true });
    const view = await infectionStatus(report.id);
    expect(view?.attempts).toMatchObject([{ step: 0, action: 'reset_memory', status: 'succeeded' }]);
    await eventually(() => {
      expect(h.eventsOf('healing.succeeded', 'severe-1')).toHaveLength(1);
      expect(h.eventsOf('approval.decided', 'severe-1')[0]?.data.decision).toBe('approved');
    }, WAIT);

    const again = await h.bus.request(HEALER_APPROVE, { agent_id: 'severe-1' }, op);
    expect(again.decided).toEqual([]);
    expect(again.unchanged).toMatchObject([{ status: 'approved', reason: 'already approved' }]);
  });

  it('reject keeps the agent quarantined and listed; heal now then heals it', async () => {
    h.sentinel.set('rej-1', 'QUARANTINED');
    const report = infection('rej-1', 7);
    await h.bus.publishEvent('infection.detected', 'rej-1', report);
    await eventually(async () => {
      expect((await infectionStatus(report.id))?.status).toBe('awaiting_approval');
    }, WAIT);

    const rejected = await h.bus.request(
      HEALER_REJECT,
      {
        infection_id: report.id,
        note: 'look first',
      },
      op,
    );
    expect(rejected.decided).toMatchObject([{ status: 'rejected', note: 'look first' }]);
    expect((await h.bus.request(HEALER_REJECT, { infection_id: report.id }, op)).decided).toEqual([]);
    const listed = await h.bus.request(HEALER_APPROVALS, { status: 'rejected' }, op);
    expect(listed.approvals.map((a) => a.infection_id)).toContain(report.id);
    expect((await infectionStatus(report.id))?.status).toBe('rejected');
    expect(h.sentinel.state('rej-1')).toBe('QUARANTINED');
    // Approve only takes pending cases: a rejected one needs heal now.
    expect((await h.bus.request(HEALER_APPROVE, { infection_id: report.id }, op)).decided).toEqual([]);

    const healed = await h.bus.request(HEALER_HEAL, { agent_id: 'rej-1' }, op);
    expect(healed.decided).toMatchObject([{ status: 'approved', decided_by: 'alice' }]);
    await eventually(async () => {
      expect((await infectionStatus(report.id))?.status).toBe('resolved');
      expect(h.eventsOf('approval.decided', 'rej-1').map((e) => e.data.decision)).toEqual([
        'rejected',
        'heal_now',
      ]);
    }, WAIT);
    expect(h.sentinel.state('rej-1')).toBe('HEALTHY');
  });

  it('decides in bulk: reject all, then heal all; repeating is harmless', async () => {
    const agents = ['bulk-1', 'bulk-2', 'bulk-3'];
    const reports = agents.map((agent) => {
      h.sentinel.set(agent, 'QUARANTINED');
      return infection(agent, 9);
    });
    for (const report of reports) await h.bus.publishEvent('infection.detected', report.agent_id, report);
    await eventually(async () => {
      const { approvals } = await h.bus.request(HEALER_APPROVALS, {}, op);
      expect(approvals.filter((a) => agents.includes(a.agent_id))).toHaveLength(3);
    }, WAIT);
    const rejected = await h.bus.request(HEALER_REJECT, { all: true }, op);
    expect(rejected.decided.map((a) => a.agent_id).sort()).toEqual(agents);
    const healed = await h.bus.request(HEALER_HEAL, { all: true }, op);
    expect(healed.decided.map((a) => a.agent_id).sort()).toEqual(agents);
    expect((await h.bus.request(HEALER_HEAL, { all: true }, op)).decided).toEqual([]);
    await eventually(() => {
      for (const agent of agents) expect(h.sentinel.state(agent)).toBe('HEALTHY');
    }, WAIT);
  });

  it('heals all rejected cases only when asked for status rejected, leaving pending ones pending', async () => {
    const [held, waiting] = ['only-rej-1', 'only-pend-1'];
    const reports = [held, waiting].map((agent) => {
      h.sentinel.set(agent, 'QUARANTINED');
      return infection(agent, 8);
    });
    for (const report of reports) await h.bus.publishEvent('infection.detected', report.agent_id, report);
    await eventually(async () => {
      for (const report of reports)
        expect((await infectionStatus(report.id))?.status).toBe('awaiting_approval');
    }, WAIT);
    await h.bus.request(HEALER_REJECT, { agent_id: held }, op);
    const healed = await h.bus.request(HEALER_HEAL, { all: true, status: 'rejected' }, op);
    expect(healed.decided.map((a) => a.agent_id)).toEqual([held]);
    const pending = await h.bus.request(HEALER_APPROVALS, { status: 'pending', agent_id: waiting }, op);
    expect(pending.approvals).toHaveLength(1);
    // A targeted case in another status is reported, not decided; a filter the decision never takes is refused.
    const untouched = await h.bus.request(HEALER_HEAL, { agent_id: waiting, status: 'rejected' }, op);
    expect(untouched).toMatchObject({ decided: [], unchanged: [{ agent_id: waiting, status: 'pending' }] });
    await expect(h.bus.request(HEALER_APPROVE, { all: true, status: 'rejected' }, op)).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await h.bus.request(HEALER_APPROVE, { agent_id: waiting }, op);
    await eventually(() => {
      for (const agent of [held, waiting]) expect(h.sentinel.state(agent)).toBe('HEALTHY');
    }, WAIT);
  });

  it('mild: heals without asking, escalating past an action that does not help', async () => {
    await createRepositories(h.store.db).agents.register({
      id: 'mild-1',
      ts: Date.now(),
      metadata: { simulated_cause: 'infinite_loop' },
    });
    h.sentinel.set('mild-1', 'QUARANTINED');
    const report = infection('mild-1', 3.8);
    await h.bus.publishEvent('infection.detected', 'mild-1', report);
    await eventually(async () => {
      expect((await infectionStatus(report.id))?.status).toBe('resolved');
    }, WAIT);
    expect(h.eventsOf('approval.requested', 'mild-1')).toHaveLength(0);
    const view = await infectionStatus(report.id);
    expect(view?.attempts.map((a) => [a.action, a.status])).toEqual([
      ['reset_memory', 'failed'],
      ['cap_max_tokens', 'succeeded'],
    ]);
    await eventually(() => {
      expect(h.eventsOf('healing.failed', 'mild-1').map((e) => e.data.action)).toEqual(['reset_memory']);
      expect(h.eventsOf('healing.succeeded', 'mild-1').map((e) => e.data.action)).toEqual(['cap_max_tokens']);
    }, WAIT);
    const memory = await createRepositories(h.store.db).immuneMemory.list({ agentId: 'mild-1' });
    expect(memory.map((m) => [m.action, m.outcome])).toEqual([
      ['reset_memory', 'failed'],
      ['cap_max_tokens', 'succeeded'],
    ]);

    // Next time, immune memory skips what failed for this agent and diagnosis.
    h.sentinel.set('mild-1', 'QUARANTINED');
    const second = infection('mild-1', 3.8);
    await h.bus.publishEvent('infection.detected', 'mild-1', second);
    await eventually(async () => {
      expect((await infectionStatus(second.id))?.status).toBe('resolved');
    }, WAIT);
    expect((await infectionStatus(second.id))?.attempts.map((a) => a.action)).toEqual(['cap_max_tokens']);
  });

  it('a relapse on probation escalates to the next action', async () => {
    h.sentinel.set('relapse-1', 'QUARANTINED');
    h.sentinel.verdicts.set('relapse-1', [false, true]);
    const report = infection('relapse-1', 4);
    await h.bus.publishEvent('infection.detected', 'relapse-1', report);
    await eventually(async () => {
      expect((await infectionStatus(report.id))?.status).toBe('resolved');
    }, WAIT);
    const view = await infectionStatus(report.id);
    expect(view?.attempts.map((a) => [a.action, a.status])).toEqual([
      ['reset_memory', 'failed'],
      ['cap_max_tokens', 'succeeded'],
    ]);
    expect(view?.attempts[0]?.detail).toMatch(/relapsed on probation/);
    expect(h.sentinel.state('relapse-1')).toBe('HEALTHY');
  });

  it('feedback on past diagnoses changes the ranking of later ones', async () => {
    const latency = [{ type: 'latency_spike' as const, metric: 'latency_ms' as const }];
    const first = infection('fb-0', 4, latency);
    h.sentinel.set('fb-0', 'QUARANTINED');
    await h.bus.publishEvent('infection.detected', 'fb-0', first);
    await eventually(
      async () => expect((await infectionStatus(first.id))?.hypotheses.length).toBeGreaterThan(0),
      WAIT,
    );
    const before = (await infectionStatus(first.id))!.hypotheses;
    expect(before[0]!.type).toBe('external_cause');
    const rankOf = (hs: typeof before, type: string) => hs.findIndex((x) => x.type === type);

    // Operators say: these latency spikes were memory corruption, four times.
    const labelled = [first];
    for (let i = 1; i < 4; i++) {
      const report = infection(`fb-${i}`, 4, latency);
      h.sentinel.set(`fb-${i}`, 'QUARANTINED');
      await h.bus.publishEvent('infection.detected', `fb-${i}`, report);
      labelled.push(report);
    }
    for (const report of labelled) {
      await eventually(
        async () => expect((await infectionStatus(report.id))?.hypotheses.length).toBeGreaterThan(0),
        WAIT,
      );
      const reply = await h.bus.request(
        HEALER_FEEDBACK,
        {
          infection_id: report.id,
          true_cause: 'memory_corruption',
        },
        op,
      );
      expect(reply).toMatchObject({ predicted: 'external_cause', true_cause: 'memory_corruption' });
    }

    const later = infection('fb-later', 4, latency);
    h.sentinel.set('fb-later', 'QUARANTINED');
    await h.bus.publishEvent('infection.detected', 'fb-later', later);
    await eventually(
      async () => expect((await infectionStatus(later.id))?.hypotheses.length).toBeGreaterThan(0),
      WAIT,
    );
    const after = (await infectionStatus(later.id))!.hypotheses;
    expect(after[0]!.type).toBe('memory_corruption');
    // Before the labels, latency spikes said nothing at all about memory corruption.
    expect(rankOf(before, 'memory_corruption')).toBe(-1);
    expect(rankOf(after, 'external_cause')).toBeGreaterThan(0);
    // The ladder follows the new ranking: memory corruption's first cure comes first.
    await eventually(async () => {
      expect((await infectionStatus(later.id))?.attempts[0]?.diagnosis).toBe('memory_corruption');
    }, WAIT);
  });
});

describe('exhaustion', { timeout: 90_000 }, () => {
  const op = as('alice');
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('marks the agent EXHAUSTED when every hypothesis ladder ran out', async () => {
    const nothingWorks = createSimulatedExecutor({
      causeOf: () => 'unknown',
      cures: {
        prompt_drift: [],
        prompt_injection: [],
        infinite_loop: [],
        tool_instability: [],
        memory_corruption: [],
        cost_overrun: [],
        external_cause: [],
        unknown: [],
      },
    });
    await h.startHealer({ executors: [nothingWorks] });
    h.sentinel.set('doomed', 'QUARANTINED');
    const report = infection('doomed', 4);
    await h.bus.publishEvent('infection.detected', 'doomed', report);
    await eventually(() => {
      expect(h.eventsOf('healing.exhausted', 'doomed')).toHaveLength(1);
    }, WAIT);
    expect(h.sentinel.state('doomed')).toBe('EXHAUSTED');
    const tried = h.eventsOf('healing.exhausted', 'doomed')[0]!.data.tried;
    // Every action of every hypothesis worth a ladder, each once.
    expect(new Set(tried.map((t) => t.action)).size).toBe(tried.length);
    expect(tried.length).toBeGreaterThanOrEqual(5);
    expect(nothingWorks.calls).toHaveLength(tried.length);
    const view = (await h.bus.request(HEALER_INFECTIONS, { infection_id: report.id }, op)).infections[0];
    expect(view?.status).toBe('exhausted');
    expect(view?.attempts.every((a) => a.status === 'failed')).toBe(true);
  });
});

describe('sentinel replicas', { timeout: 90_000 }, () => {
  const op = as('alice');
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // No reconcile during the test: only the lifecycle client's own retries can get past a refusal.
    await h.startHealer({ env: { HEALER_RECONCILE_MS: '600000' } });
  });
  afterAll(() => h.close());

  it('sends a trigger again at once when a replica that does not own the agent refused it (not_owner)', async () => {
    h.sentinel.set('replicated', 'QUARANTINED');
    h.sentinel.notOwner.set('replicated', 3);
    const report = infection('replicated', 3.8);
    await h.bus.publishEvent('infection.detected', 'replicated', report);
    await eventually(async () => {
      const [view] = (await h.bus.request(HEALER_INFECTIONS, { infection_id: report.id }, op)).infections;
      expect(view?.status).toBe('resolved');
    }, WAIT);
    expect(h.sentinel.notOwner.get('replicated')).toBe(0);
    expect(h.sentinel.triggers.filter((t) => t.agent_id === 'replicated').map((t) => t.trigger)).toEqual([
      'healing_started',
      'healing_succeeded',
    ]);
    expect(h.sentinel.state('replicated')).toBe('HEALTHY');
  });
});
