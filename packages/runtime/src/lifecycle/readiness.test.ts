import { describe, expect, it, vi } from 'vitest';
import { Readiness } from './readiness.js';

describe('Readiness', () => {
  it('goes starting -> ready -> draining and never back', async () => {
    const readiness = new Readiness();
    expect(await readiness.report()).toEqual({ ready: false, state: 'starting' });
    readiness.markReady();
    expect(await readiness.report()).toEqual({ ready: true, state: 'ready' });
    readiness.markDraining();
    readiness.markReady();
    expect(await readiness.report()).toEqual({ ready: false, state: 'draining' });
  });

  it('counts a check that does not answer within a second as failing', async () => {
    vi.useFakeTimers();
    try {
      const readiness = new Readiness();
      readiness.markReady();
      readiness.addCheck('database', () => new Promise<boolean>(() => {}));
      const pending = readiness.report();
      await vi.advanceTimersByTimeAsync(1001);
      expect(await pending).toEqual({ ready: false, state: 'ready', checks: { database: 'timeout' } });
    } finally {
      vi.useRealTimers();
    }
  });
});
