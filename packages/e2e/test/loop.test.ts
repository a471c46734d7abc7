import { HEALER_APPROVE } from '@immune/bus';
import { eventually } from '@immune/bus/testing';
import { createRepositories } from '@immune/store';
import { afterEach, describe, expect, it } from 'vitest';
import { E2E_OPERATOR_TOKEN, type Loop, scriptedExecutor, startLoop, vital } from './harness.js';

/**
 * The whole immune loop on real NATS and real PostgreSQL: vitals published on the bus → the real sentinel
 * (detection, lifecycle, quarantine KV) → infection.detected → the real healer (diagnosis, approval, ladder)
 * → `sentinel.lifecycle` triggers → probation judged by the sentinel on fresh vitals → probation.* → healer.
 * Nothing is faked but the cure itself (a scripted executor decides whether an action works).
 */
describe('the immune loop: sentinel + healer on NATS + PostgreSQL', { timeout: 90_000 }, () => {
  const open: Loop[] = [];
  afterEach(async () => {
    for (const loop of open.splice(0)) await loop.close();
  });
  const start = async (...args: Parameters<typeof startLoop>) => {
    const loop = await startLoop(...args);
    open.push(loop);
    return loop;
  };

  /** 20 normal vitals 100 ms apart in the recent past: the baseline is warm and the agent HEALTHY. */
  async function warmUp(loop: Loop, agent: string): Promise<void> {
    const end = Date.now() - 500;
    for (let i = 0; i < 20; i++) await loop.bus.publishVital(vital(agent, end - (20 - i) * 100));
    await eventually(async () => expect(await loop.state(agent)).toBe('HEALTHY'), 15_000);
  }

  /** Anomalous vitals (tokens × factor) until the sentinel reports an infection; returns it. */
  async function infect(loop: Loop, agent: string, factor: number) {
    const now = Date.now();
    for (let i = 0; i < 4; i++) await loop.bus.publishVital(vital(agent, now + i * 10, factor));
    await eventually(() => expect(loop.eventsOf('infection.detected', agent)).toHaveLength(1), 15_000);
    return loop.eventsOf('infection.detected', agent)[0]!.data;
  }

  /** Publishes a vital every ~150 ms (its timestamp: now) until the agent is in `state`. */
  async function feedUntil(loop: Loop, agent: string, state: string, factor = 1): Promise<void> {
    await eventually(
      async () => {
        if ((await loop.state(agent)) === state) return;
        await loop.bus.publishVital(vital(agent, Date.now(), factor));
        throw new Error(`${agent} is not ${state} yet`);
      },
      20_000,
      150,
    );
  }

  async function inState(loop: Loop, agent: string, state: string, timeoutMs = 20_000): Promise<void> {
    await eventually(async () => expect(await loop.state(agent)).toBe(state), timeoutMs, 50);
  }

  it('mild anomaly: infection → auto-heal → probation on fresh vitals → HEALTHY, quarantine entry gone', async () => {
    const executor = scriptedExecutor(() => true);
    const loop = await start({ executor });
    const agent = 'mild.agent';
    await warmUp(loop, agent);
    const infection = await infect(loop, agent, 1.4);
    // Mild: the healer does not ask anyone.
    expect(infection.max_deviation).toBeGreaterThanOrEqual(3);
    expect(infection.max_deviation).toBeLessThan(5);

    await inState(loop, agent, 'PROBATION');
    // The cure reached the sentinel: the entry is gone (traffic flows on probation) and the baselines adapt.
    // The lifecycle answer comes from the sentinel's memory, the bucket's delete a round trip later.
    await eventually(async () => expect(await loop.quarantineEntry(agent)).toBeUndefined(), 10_000);
    expect(loop.sentinel.triage.detectorOf(agent, 'llm')?.adapting).toBe(true);
    expect(executor.calls).toHaveLength(1);
    const action = executor.calls[0]!.action;

    await feedUntil(loop, agent, 'HEALTHY');
    await eventually(() => expect(loop.eventsOf('probation.passed', agent)).toHaveLength(1));
    expect(loop.eventsOf('probation.passed', agent)[0]!.data).toMatchObject({
      infection_id: infection.id,
      agent_id: agent,
      action,
    });
    const repos = createRepositories(loop.store.db);
    await eventually(async () => expect((await repos.infections.get(infection.id))?.status).toBe('resolved'));
    expect((await repos.healingActions.forInfection(infection.id)).map((a) => [a.action, a.status])).toEqual([
      [action, 'succeeded'],
    ]);
    expect(loop.eventsOf('approval.requested', agent)).toHaveLength(0);
    expect(loop.eventsOf('healing.succeeded', agent)).toHaveLength(1);
    expect(await loop.quarantineEntry(agent)).toBeUndefined();

    const path = [
      'INITIALIZING->HEALTHY',
      'HEALTHY->SUSPECTED',
      'SUSPECTED->DRAINING',
      'DRAINING->QUARANTINED',
      'QUARANTINED->HEALING',
      'HEALING->PROBATION',
      'PROBATION->HEALTHY',
    ];
    await eventually(() => expect(loop.moves(agent)).toEqual(path));
    expect(
      (await repos.lifecycleEvents.history(agent)).map((t) => `${t.from}->${t.to}`),
      'lifecycle_events rows',
    ).toEqual(path);
    // The healer's triggers are durable: the checkpoint says HEALTHY, with the cure that worked.
    await eventually(async () =>
      expect((await repos.sentinelAgents.get(agent))?.snapshot).toMatchObject({ state: 'HEALTHY', seq: 7 }),
    );
    const released = loop.eventsOf('quarantine.released', agent);
    expect(released.map((e) => e.data.infection_id)).toEqual([infection.id]);
  });

  it('severe infection: approval pending (stays quarantined) → approve → healing → probation → HEALTHY', async () => {
    const executor = scriptedExecutor(() => true);
    const loop = await start({ executor });
    const agent = 'severe-agent';
    await warmUp(loop, agent);
    const infection = await infect(loop, agent, 3);
    expect(infection.max_deviation).toBeGreaterThanOrEqual(5);

    await eventually(() => expect(loop.eventsOf('approval.requested', agent)).toHaveLength(1), 10_000);
    await inState(loop, agent, 'QUARANTINED');
    // Several reconcile periods later nothing has run: the case waits for an operator.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await loop.state(agent)).toBe('QUARANTINED');
    expect(executor.calls).toHaveLength(0);
    expect((await loop.quarantineEntry(agent))?.state).toBe('QUARANTINED');

    const decision = await loop.bus.request(
      HEALER_APPROVE,
      { agent_id: agent },
      { operatorToken: E2E_OPERATOR_TOKEN },
    );
    expect(decision.decided.map((d) => d.decided_by)).toEqual(['e2e-operator']);
    expect(decision.decided.map((d) => d.infection_id)).toEqual([infection.id]);
    await inState(loop, agent, 'PROBATION');
    expect(await loop.quarantineEntry(agent)).toBeUndefined();
    await feedUntil(loop, agent, 'HEALTHY');
    await eventually(() =>
      expect(loop.eventsOf('probation.passed', agent).map((e) => e.data.infection_id)).toEqual([
        infection.id,
      ]),
    );
    const repos = createRepositories(loop.store.db);
    await eventually(async () => expect((await repos.infections.get(infection.id))?.status).toBe('resolved'));
    expect(loop.eventsOf('approval.decided', agent).map((e) => e.data.decision)).toEqual(['approved']);
    expect(loop.moves(agent).slice(-3)).toEqual([
      'QUARANTINED->HEALING',
      'HEALING->PROBATION',
      'PROBATION->HEALTHY',
    ]);
    expect(await loop.quarantineEntry(agent)).toBeUndefined();
  });

  it('relapses on probation escalate to the next action each time, until one holds', async () => {
    const executor = scriptedExecutor(() => true);
    const loop = await start({ executor });
    const agent = 'relapsing-agent';
    await warmUp(loop, agent);
    const infection = await infect(loop, agent, 1.4);

    // Two cures in a row do not hold: the first vital on probation is anomalous again. Each relapse is its
    // own probation.failed (same infection, another action), and the healer escalates each time.
    for (let relapse = 1; relapse <= 2; relapse++) {
      await inState(loop, agent, 'PROBATION');
      expect(executor.calls).toHaveLength(relapse);
      await loop.bus.publishVital(vital(agent, Date.now(), 2.5));
      await eventually(() => expect(loop.eventsOf('probation.failed', agent)).toHaveLength(relapse), 10_000);
      expect(loop.eventsOf('probation.failed', agent)[relapse - 1]!.data).toMatchObject({
        infection_id: infection.id,
        action: executor.calls[relapse - 1]!.action,
      });
      await eventually(() => expect(executor.calls).toHaveLength(relapse + 1), 10_000);
    }
    const actions = executor.calls.map((c) => c.action);
    expect(new Set(actions).size).toBe(3);
    await inState(loop, agent, 'PROBATION');
    await feedUntil(loop, agent, 'HEALTHY');
    await eventually(() =>
      expect(loop.eventsOf('probation.passed', agent).map((e) => e.data)).toMatchObject([
        { infection_id: infection.id, action: actions[2] },
      ]),
    );

    const repos = createRepositories(loop.store.db);
    await eventually(async () => expect((await repos.infections.get(infection.id))?.status).toBe('resolved'));
    const attempts = await repos.healingActions.forInfection(infection.id);
    expect(attempts.map((a) => [a.action, a.status])).toEqual([
      [actions[0], 'failed'],
      [actions[1], 'failed'],
      [actions[2], 'succeeded'],
    ]);
    expect(attempts[0]!.detail).toMatch(/relapsed on probation/);
    await eventually(() =>
      expect(loop.moves(agent).slice(4)).toEqual([
        'QUARANTINED->HEALING',
        'HEALING->PROBATION',
        'PROBATION->HEALING',
        'HEALING->PROBATION',
        'PROBATION->HEALING',
        'HEALING->PROBATION',
        'PROBATION->HEALTHY',
      ]),
    );
    expect(await loop.quarantineEntry(agent)).toBeUndefined();
  });

  it('every action fails: the ladder runs out and the agent is EXHAUSTED, still quarantined', async () => {
    const executor = scriptedExecutor(() => false);
    const loop = await start({ executor });
    const agent = 'hopeless-agent';
    await warmUp(loop, agent);
    const infection = await infect(loop, agent, 1.4);
    // Mild, so the healer runs the ladder without asking for an approval.
    expect(infection.max_deviation).toBeLessThan(5);

    await inState(loop, agent, 'EXHAUSTED');
    await eventually(() => expect(loop.eventsOf('healing.exhausted', agent)).toHaveLength(1), 10_000);
    const exhausted = loop.eventsOf('healing.exhausted', agent)[0]!.data;
    expect(exhausted.infection_id).toBe(infection.id);
    expect(exhausted.tried.map((t) => t.action)).toEqual(executor.calls.map((c) => c.action));
    expect(executor.calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(executor.calls.map((c) => `${c.action}`)).size).toBe(executor.calls.length);

    const repos = createRepositories(loop.store.db);
    expect((await repos.infections.get(infection.id))?.status).toBe('exhausted');
    expect((await loop.quarantineEntry(agent))?.state).toBe('EXHAUSTED');
    expect(loop.moves(agent).slice(-2)).toEqual(['QUARANTINED->HEALING', 'HEALING->EXHAUSTED']);
    expect(loop.eventsOf('probation.passed', agent)).toHaveLength(0);
  });
});
