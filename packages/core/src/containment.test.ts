import { describe, expect, it } from 'vitest';
import {
  clampOf,
  containmentLevel,
  DEFAULT_CONTAINMENT_CONFIG,
  softContainment,
  usualRate,
} from './containment.js';

const config = DEFAULT_CONTAINMENT_CONFIG;

describe('soft containment', () => {
  it('clamps to the upper band of the output-token baseline, never below the floor', () => {
    // log1p scale: mean log1p(300), sd 0.1 -> expm1(log1p(300) + 0.2) = 301·e^0.2 - 1 ≈ 366.6, rounded up
    expect(clampOf({ mean: Math.log1p(300), sd: 0.1, n: 50 }, config)).toBe(367);
    expect(clampOf({ mean: Math.log1p(5), sd: 0.1, n: 50 }, config)).toBe(config.minMaxTokens);
    expect(clampOf(undefined, config)).toBeUndefined();
    expect(clampOf({ mean: 0, sd: 0, n: 0 }, config)).toBeUndefined();
  });

  it('takes the usual rate from the calls before the anomalous one', () => {
    // Calls every 200 ms, then the anomalous call right after: 5 calls/s = 300 per minute.
    expect(usualRate([0, 200, 400, 600, 610])).toBe(300);
    expect(usualRate([0, 200])).toBeUndefined();
    expect(usualRate([100, 100, 100])).toBeUndefined();
  });

  it('writes a SUSPECTED entry with the clamp and the throttle', () => {
    const order = softContainment(
      {
        agentId: 'a',
        reason: 'output_token_spike 9.0σ',
        now: 1_000,
        outputTokens: { mean: Math.log1p(300), sd: 0.1, n: 50 },
        callTimes: [0, 200, 400, 600, 800],
      },
      config,
    );
    expect(order).toEqual({
      agent_id: 'a',
      state: 'SUSPECTED',
      reason: 'soft containment: output_token_spike 9.0σ',
      since: 1_000,
      containment: 'soft',
      max_tokens: 367,
      calls_per_minute: 450,
    });
  });

  it('leaves out what it cannot know, and keeps the throttle floor', () => {
    const order = softContainment(
      {
        agentId: 'a',
        reason: 'r',
        now: 0,
        outputTokens: undefined,
        callTimes: [0, 60_000, 120_000, 120_001],
      },
      config,
    );
    expect(order.max_tokens).toBeUndefined();
    expect(order.calls_per_minute).toBe(config.minCallsPerMinute);
  });

  it('reads the level: blocked states are full whatever the entry says, soft needs the entry', () => {
    expect(containmentLevel({ state: 'DRAINING' })).toBe('full');
    expect(containmentLevel({ state: 'QUARANTINED', containment: 'soft' })).toBe('full');
    expect(containmentLevel({ state: 'SUSPECTED', containment: 'soft' })).toBe('soft');
    expect(containmentLevel({ state: 'SUSPECTED' })).toBeUndefined();
    expect(containmentLevel({ state: 'HEALTHY' })).toBeUndefined();
  });
});
