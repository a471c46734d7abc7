// Entry point `@immune/core/testing`: test fixtures for the domain's values, for every package's tests. Not for
// production code. It lives with the `Vital` type it builds, so a change to the type and to the fixture is one
// change, and it adds no package of its own (and so no grab-bag "test utils" package).
import type { Vital } from './vital.js';

/** Fixed instead of `Date.now()`, so a test's vitals are the same on every run; pass `ts` when time matters. */
export const TEST_EPOCH_MS = 1_700_000_000_000;

let counter = 0;
// Vital ids must differ between test processes that share one NATS stream or one database; the rest of a
// vital is deterministic.
const processTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/**
 * A normal, successful LLM call through the gateway: 500 input and 200 output tokens, 800 ms, one tool call.
 * Each call gets a new id and a `ts` one second after the previous one; override what the test is about.
 */
export function testVital(overrides: Partial<Vital> = {}): Vital {
  counter++;
  return {
    id: `v-${processTag}-${counter}`,
    agent_id: 'agent-a',
    ts: TEST_EPOCH_MS + counter * 1000,
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

/**
 * Deterministic pseudo-random numbers in [0, 1) (mulberry32): every test that needs noise draws from one of
 * these with a fixed seed, never from `Math.random`, so a failure replays exactly.
 */
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

/** A `testVital` with noisy but normal numbers around its defaults. */
export function noisyVital(random: () => number, overrides: Partial<Vital> = {}): Vital {
  const input = Math.max(1, Math.round(gaussian(random, 500, 50)));
  const output = Math.max(1, Math.round(gaussian(random, 200, 20)));
  return testVital({
    latency_ms: Math.max(1, gaussian(random, 800, 80)),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    cost: (input * 0.15 + output * 0.6) / 1e6,
    tool_calls: random() < 0.5 ? 1 : 0,
    ...overrides,
  });
}
