import type { QuarantineEntry } from '@immune/bus';
import { describe, expect, it } from 'vitest';
import { QuarantineView } from './quarantine-view.js';
import { clampMutations } from './soft-containment.js';

const soft: QuarantineEntry = {
  agent_id: 'a',
  state: 'SUSPECTED',
  reason: 'soft containment: output_token_spike 9.0σ',
  since: 0,
  containment: 'soft',
  max_tokens: 400,
  calls_per_minute: 60,
  by: 'sentinel',
};

describe('soft containment at the gateway', () => {
  it('serves a softly contained agent clamped, blocks nothing, and lets a full entry replace it', () => {
    const view = new QuarantineView();
    view.apply('a', soft);
    expect(view.blockOf('a')).toBeUndefined();
    expect(view.soft.admit('a', 0)).toMatchObject({ ok: true, maxTokens: 400 });
    view.apply('a', { ...soft, state: 'DRAINING', containment: 'full' });
    expect(view.blockOf('a')?.state).toBe('DRAINING');
    expect(view.soft.admit('a', 0)).toBeUndefined();
    view.apply('a', undefined);
    expect(view.blockOf('a')).toBeUndefined();
    expect(view.soft.size).toBe(0);
  });

  it('throttles to the entry rate: a full bucket, then one call per refill', () => {
    const view = new QuarantineView();
    view.apply('a', soft);
    let served = 0;
    for (let i = 0; i < 100; i++) if (view.soft.admit('a', 0)?.ok) served++;
    expect(served).toBe(60);
    expect(view.soft.admit('a', 0)).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    expect(view.soft.admit('a', 1_000)?.ok).toBe(true);
    expect(view.soft.admit('a', 1_000)?.ok).toBe(false);
  });

  it('keeps the lower of the policy limit and the clamp', () => {
    const base = { stripTools: false };
    expect(clampMutations(base, 400).maxTokens).toBe(400);
    expect(clampMutations({ ...base, maxTokens: 100 }, 400).maxTokens).toBe(100);
    expect(clampMutations({ ...base, maxTokens: 1_000 }, 400).maxTokens).toBe(400);
    expect(clampMutations(base, undefined)).toBe(base);
  });
});
