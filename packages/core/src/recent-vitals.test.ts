import { describe, expect, it } from 'vitest';
import { RecentVitals } from './recent-vitals.js';
import type { Vital } from './vital.js';

function vital(i: number, extra: Partial<Vital> = {}): Vital {
  return {
    id: `v-${i}`,
    agent_id: 'agent-1',
    ts: 1_700_000_000_000 + i,
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: 100 + i,
    input_tokens: 10 * i,
    output_tokens: i,
    total_tokens: 11 * i,
    tool_calls: 0,
    retries: 0,
    cost: 0.001 * i,
    success: i % 2 === 0,
    ...extra,
  };
}

describe('RecentVitals', () => {
  it('gives back the last vitals, oldest first, equal to what went in', () => {
    const ring = new RecentVitals(3, 'agent-1');
    const pushed = [
      vital(1, { ttft_ms: 12.5, prompt_hash: 'p', request_hash: 'r1', trace_id: 't' }),
      vital(2, { error_type: 'rate_limit', provider: 'openai' }),
      vital(3, { kind: 'tool', source: 'mcp', tool_name: 'search', mcp_server: 'web' }),
      vital(4),
    ];
    expect(ring.toArray()).toEqual([]);
    ring.push(pushed[0]!);
    expect(ring.toArray()).toEqual([pushed[0]]);
    for (const v of pushed.slice(1)) ring.push(v);
    expect(ring.size).toBe(3);
    // toStrictEqual: fields absent from a vital must stay absent, not come back as undefined.
    expect(ring.toArray()).toStrictEqual(pushed.slice(1));
  });

  it('keeps nothing with a capacity of zero', () => {
    const ring = new RecentVitals(0, 'agent-1');
    ring.push(vital(1));
    expect(ring.toArray()).toEqual([]);
  });
});
