import type { InfectionReport, Vital } from '@immune/core';
import fc from 'fast-check';

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
    latency_ms: 800.25,
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

export function vitals(count: number, overrides: Partial<Vital> = {}): Vital[] {
  return Array.from({ length: count }, () => vital(overrides));
}

export function infectionReport(overrides: Partial<InfectionReport> = {}): InfectionReport {
  counter++;
  return {
    id: `inf-${counter}`,
    agent_id: 'agent-a',
    ts: 1_700_000_000_000 + counter * 1000,
    anomalies: [{ type: 'token_spike', metric: 'total_tokens', observed: 9000, expected: 700, sigma: 6.5 }],
    deviations: { total_tokens: 6.5 },
    max_deviation: 6.5,
    severity: 'high',
    fleet_correlated: false,
    recent_vitals: [vital()],
    ...overrides,
  };
}

// Whole graphemes (any script, emoji): PostgreSQL text must give back exactly what went in.
const text = (minLength: number, maxLength: number) => fc.string({ unit: 'grapheme', minLength, maxLength });
const optionalText = (max: number) => fc.option(text(0, max), { nil: undefined });

/** Any valid vital, including every optional field present or absent and awkward strings. */
export const arbitraryVital: fc.Arbitrary<Vital> = fc
  .record({
    id: text(1, 40),
    agent_id: text(1, 40),
    ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    source: fc.constantFrom('gateway', 'mcp', 'ingest', 'otlp'),
    kind: fc.constantFrom('llm', 'tool', 'task'),
    model: optionalText(30),
    provider: optionalText(20),
    latency_ms: fc.double({ min: 0, max: 1e7, noNaN: true }),
    ttft_ms: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: undefined }),
    input_tokens: fc.nat({ max: 2_000_000_000 }),
    output_tokens: fc.nat({ max: 2_000_000_000 }),
    total_tokens: fc.nat({ max: 2_000_000_000 }),
    tool_calls: fc.nat({ max: 10_000 }),
    retries: fc.nat({ max: 100 }),
    cost: fc.double({ min: 0, max: 1e4, noNaN: true }),
    success: fc.boolean(),
    error_type: optionalText(20),
    prompt_hash: optionalText(64),
    request_hash: optionalText(64),
    tool_name: optionalText(30),
    mcp_server: optionalText(30),
    trace_id: optionalText(32),
  })
  .map((record) => {
    // Absent optional fields are missing keys, as TypeBox's Optional means, not keys holding undefined.
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
    return out as Vital;
  });
