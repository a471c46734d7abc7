import { Readable, Writable } from 'node:stream';
import type { Vital } from '@immune/core';
import type { CliIO } from '../src/io.js';

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let nextId = 0;

/** A normal LLM call of an agent: ~800 ms, 500 in / 200 out tokens, with a little noise from `random`. */
export function vital(
  agentId: string,
  ts: number,
  random: () => number,
  overrides: Partial<Vital> = {},
): Vital {
  const input = Math.round(500 + 40 * (random() - 0.5));
  const output = Math.round(200 + 20 * (random() - 0.5));
  return {
    id: `v${nextId++}`,
    agent_id: agentId,
    ts,
    source: 'gateway',
    kind: 'llm',
    latency_ms: 800 + 100 * (random() - 0.5),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: 0,
    retries: 0,
    cost: (input * 0.15 + output * 0.6) / 1e6,
    success: true,
    ...overrides,
  };
}

/** `count` vitals for each agent, one per agent every `stepMs`, with `spike` applied where it returns overrides. */
export function fleetStream(options: {
  agents: string[];
  count: number;
  stepMs?: number;
  start?: number;
  seed?: number;
  spike?: (agentId: string, index: number) => Partial<Vital> | undefined;
}): Vital[] {
  const random = seededRandom(options.seed ?? 1);
  const step = options.stepMs ?? 1000;
  const vitals: Vital[] = [];
  let ts = options.start ?? 1_700_000_000_000;
  for (let i = 0; i < options.count; i++) {
    for (const agent of options.agents) {
      ts += Math.round(step / options.agents.length);
      vitals.push(vital(agent, ts, random, options.spike?.(agent, i)));
    }
  }
  return vitals;
}

export const toJsonl = (vitals: readonly Vital[]) => `${vitals.map((v) => JSON.stringify(v)).join('\n')}\n`;

/** In-memory streams for `run`, with what was written to stdout and stderr. */
export function memoryIO(stdin = ''): CliIO & { out(): string; err(): string } {
  const collect = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const stdout = collect();
  const stderr = collect();
  return {
    stdin: Readable.from([stdin]),
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdinIsTTY: false,
    out: stdout.text,
    err: stderr.text,
  };
}
