import type { Vital } from '@immune/core';

let sequence = 0;
const runTag = Math.random().toString(36).slice(2, 8);

/** One LLM call of ~1000 tokens and ~800 ms with deterministic noise; `factor` multiplies tokens and cost. */
export function vital(agentId: string, ts: number, factor = 1): Vital {
  const n = ++sequence;
  const noise = (k: number) => ((n * 7919 + k * 104_729) % 1000) / 1000;
  const input = Math.round((700 + noise(1) * 40) * factor);
  const output = Math.round((300 + noise(2) * 20) * factor);
  return {
    id: `${runTag}-${n}`,
    agent_id: agentId,
    ts: Math.round(ts),
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: Math.round(800 + noise(3) * 40),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: 0,
    retries: 0,
    cost: (input + output) * 1e-6,
    success: true,
    prompt_hash: 'prompt-v1',
  };
}
