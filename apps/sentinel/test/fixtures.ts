import type { Vital } from '@immune/core';

/** A small deterministic PRNG, so every run (and both deployments of a comparison) sees the same traffic. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let sequence = 0;
const runTag = Math.random().toString(36).slice(2, 8);

/** A normal LLM call of ~1000 tokens and ~800 ms, with a little noise. */
export function normalVital(
  agentId: string,
  ts: number,
  random: () => number,
  over: Partial<Vital> = {},
): Vital {
  const input = Math.round(700 + random() * 40);
  const output = Math.round(300 + random() * 20);
  return {
    id: `${runTag}-${++sequence}`,
    agent_id: agentId,
    ts: Math.round(ts),
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: Math.round(800 + random() * 40),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: 0,
    retries: 0,
    cost: (input + output) * 1e-6,
    success: true,
    prompt_hash: 'prompt-v1',
    ...over,
  };
}

/** Token explosion: every token count and the cost multiplied. */
export function spike(factor: number): Partial<Vital> {
  return {
    input_tokens: 720 * factor,
    output_tokens: 310 * factor,
    total_tokens: 1030 * factor,
    cost: 1030 * factor * 1e-6,
  };
}

/** The same tool with the same arguments, again and again: a tool-call loop. */
export const toolLoop: Partial<Vital> = {
  kind: 'tool',
  source: 'mcp',
  tool_name: 'search',
  request_hash: 'search:{"q":"same"}',
  tool_calls: 1,
};

/** The same request retried: a retry storm. */
export const retryStorm: Partial<Vital> = { request_hash: 'req-identical', retries: 1 };
