import { HEALER_APPROVALS, HEALER_APPROVE, HEALER_HEAL, HEALER_INFECTIONS, HEALER_REJECT } from '@immune/bus';
import { eventually } from '@immune/bus/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ActionRequest, createSimulatedExecutor, type HealingExecutor } from '../src/executors/index.js';
import { as, type Harness, infection, startHarness } from './harness.js';

const WAIT = 30_000;
const op = as('bob');

/** A simulated executor that records every call, across healer instances. */
function recording(
  calls: ActionRequest[],
  gate?: { entered: () => void; hold: Promise<never> },
): HealingExecutor {
  const inner = createSimulatedExecutor();
  return {
    name: 'simulated',
    supports: () => true,
    async apply(request) {
      calls.push(request);
      if (gate) {
        gate.entered();
        return gate.hold;
      }
      return inner.apply(request);
    },
  };
}

describe('healer restarts', { timeout: 120_000 }, () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  it('keeps pending and rejected approvals across a restart and heals them after it', async () => {
    const first = await h.startHealer();
    h.sentinel.set('keep-pending', 'QUARANTINED');
    h.sentinel.set('keep-rejected', 'QUARANTINED');
    const pending = infection('keep-pending', 6);
    const rejected = infection('keep-rejected', 6);
    await h.bus.publishEvent('infection.detected', 'keep-pending', pending);
    await h.bus.publishEvent('infection.detected', 'keep-rejected', rejected);
    await eventually(async () => {
      expect((await h.bus.request(HEALER_APPROVALS, {}, op)).approvals).toHaveLength(2);
    }, WAIT);
    await h.bus.request(HEALER_REJECT, { agent_id: 'keep-rejected' }, op);
    await first.stop();

    await h.startHealer();
    expect((await h.bus.request(HEALER_APPROVALS, {}, op)).approvals.map((a) => a.agent_id)).toEqual([
      'keep-pending',
    ]);
    expect(
      (await h.bus.request(HEALER_APPROVALS, { status: 'rejected' }, op)).approvals.map((a) => a.agent_id),
    ).toEqual(['keep-rejected']);
    await h.bus.request(HEALER_APPROVE, { agent_id: 'keep-pending' }, op);
    await h.bus.request(HEALER_HEAL, { agent_id: 'keep-rejected' }, op);
    await eventually(() => {
      expect(h.sentinel.state('keep-pending')).toBe('HEALTHY');
      expect(h.sentinel.state('keep-rejected')).toBe('HEALTHY');
    }, WAIT);
  });

  it('resumes a healing that was cut off mid-action without running any action twice', async () => {
    const calls: ActionRequest[] = [];
    let entered!: () => void;
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // The first healer's executor never returns: it "crashes" while the action runs.
    const first = await h.startHealer({
      executors: [recording(calls, { entered, hold: new Promise<never>(() => {}) })],
    });
    h.sentinel.set('cut-off', 'QUARANTINED');
    const report = infection('cut-off', 4);
    await h.bus.publishEvent('infection.detected', 'cut-off', report);
    await started;
    await first.kill();

    await h.startHealer({ executors: [recording(calls)] });
    await eventually(async () => {
      const view = (await h.bus.request(HEALER_INFECTIONS, { infection_id: report.id }, op)).infections[0];
      expect(view?.status).toBe('resolved');
    }, WAIT);
    const view = (await h.bus.request(HEALER_INFECTIONS, { infection_id: report.id }, op)).infections[0]!;
    expect(view.attempts.map((a) => [a.step, a.action, a.status])).toEqual([
      [0, 'reset_memory', 'failed'],
      [1, 'cap_max_tokens', 'succeeded'],
    ]);
    expect(view.attempts[0]!.detail).toMatch(/interrupted/);
    // Each attempt ran exactly once, the interrupted one on the first healer only.
    expect(calls.map((c) => c.attemptId)).toEqual([`${report.id}#0`, `${report.id}#1`]);
    expect(h.sentinel.state('cut-off')).toBe('HEALTHY');
  });

  it('resumes a healing waiting for probation after a restart: the verdict reaches the new healer', async () => {
    const calls: ActionRequest[] = [];
    const first = await h.startHealer({ executors: [recording(calls)] });
    h.sentinel.set('on-probation', 'QUARANTINED');
    // The probation verdict is published only after the first healer stopped.
    h.sentinel.verdicts.set('on-probation', []);
    const hold = h.sentinel.holdVerdicts();
    const report = infection('on-probation', 4);
    await h.bus.publishEvent('infection.detected', 'on-probation', report);
    await eventually(() => expect(h.sentinel.state('on-probation')).toBe('PROBATION'), WAIT);
    await first.stop();
    hold.release();
    await h.startHealer({ executors: [recording(calls)] });
    await eventually(async () => {
      const view = (await h.bus.request(HEALER_INFECTIONS, { infection_id: report.id }, op)).infections[0];
      expect(view?.status).toBe('resolved');
    }, WAIT);
    expect(calls).toHaveLength(1);
  });
});
