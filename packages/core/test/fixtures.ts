import type { Vital } from '../src/vital.js';

let counter = 0;

/** A normal, successful LLM call; override what the test is about. */
export function vital(overrides: Partial<Vital> = {}): Vital {
  counter++;
  return {
    id: `v-${counter}`,
    agent_id: 'agent-a',
    ts: 1_700_000_000_000 + counter * 1000,
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: 800,
    input_tokens: 500,
    output_tokens: 200,
    total_tokens: 700,
    tool_calls: 1,
    retries: 0,
    cost: 0.000195,
    success: true,
    prompt_hash: 'a'.repeat(64),
    ...overrides,
  };
}

/** Deterministic pseudo-random numbers (mulberry32), so tests that need noise are repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A normally distributed sample (Box-Muller). */
export function gaussian(random: () => number, mean: number, sd: number): number {
  const u = Math.max(random(), Number.EPSILON);
  const v = random();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A vital with noisy but normal numbers around the fixture's defaults. */
export function noisyVital(random: () => number, overrides: Partial<Vital> = {}): Vital {
  const input = Math.max(1, Math.round(gaussian(random, 500, 50)));
  const output = Math.max(1, Math.round(gaussian(random, 200, 20)));
  return vital({
    latency_ms: Math.max(1, gaussian(random, 800, 80)),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    cost: (input * 0.15 + output * 0.6) / 1e6,
    tool_calls: random() < 0.5 ? 1 : 0,
    ...overrides,
  });
}
