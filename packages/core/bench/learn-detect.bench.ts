/**
 * Learn + detect throughput for a fleet of 10k agents on one core, and the state each agent costs.
 *
 * The figure that matters is vitals/s through `AgentDetector.observe`, including the per-agent Map lookup the
 * sentinel does. Because machines here are shared and noisy, the same loop is also run with a trivial body
 * (lookup + reading the same fields) as a baseline in the same process, and the ratio is reported.
 *
 * Run: pnpm --filter @immune/core bench   (env BENCH_VITALS to change the measured count)
 */
import { AgentDetector } from '../src/detector.js';
import type { Vital } from '../src/vital.js';

const AGENTS = 10_000;
const POOL = 1 << 17;
const MEASURED = Number(process.env.BENCH_VITALS ?? 2_000_000);
const ROUNDS = 5;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(42);
const normal = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
const agentIds = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);

/** A pool of vitals with realistic noise and ~0.5 % anomalies, reused round-robin across the fleet. */
const pool: Vital[] = Array.from({ length: POOL }, (_, i) => {
  const spike = random() < 0.005;
  const input = Math.max(1, Math.round(500 + 60 * normal()));
  const output = Math.max(1, Math.round((spike ? 4000 : 200) + 25 * normal()));
  return {
    id: `v${i}`,
    agent_id: agentIds[i % AGENTS]!,
    ts: i,
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: Math.max(1, 800 + 90 * normal()),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: random() < 0.4 ? 1 : 0,
    retries: random() < 0.01 ? 1 : 0,
    cost: (input * 0.15 + output * 0.6) / 1e6,
    success: random() > 0.01,
    prompt_hash: random() < 0.001 ? `changed-${i}` : 'f'.repeat(64),
  };
});

function fleet(): Map<string, AgentDetector> {
  const detectors = new Map<string, AgentDetector>();
  for (const id of agentIds) detectors.set(id, new AgentDetector());
  return detectors;
}

function runDetect(detectors: Map<string, AgentDetector>, count: number, offset: number): number {
  let anomalies = 0;
  for (let i = 0; i < count; i++) {
    const vital = pool[(offset + i) & (POOL - 1)]!;
    anomalies += detectors.get(vital.agent_id)!.observe(vital).length;
  }
  return anomalies;
}

function runBaseline(detectors: Map<string, AgentDetector>, count: number, offset: number): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const vital = pool[(offset + i) & (POOL - 1)]!;
    if (detectors.get(vital.agent_id) !== undefined) {
      sink +=
        vital.total_tokens +
        vital.input_tokens +
        vital.output_tokens +
        vital.latency_ms +
        vital.tool_calls +
        vital.cost;
    }
  }
  return sink;
}

function timed(fn: () => number): { seconds: number; result: number } {
  const start = process.hrtime.bigint();
  const result = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

// Memory: warm a whole fleet, then measure heap growth per agent and the serialised snapshot size.
const heapBefore = heapUsed();
const detectors = fleet();
runDetect(detectors, AGENTS * 40, 0);
const heapAfter = heapUsed();
const snapshotBytes = [...detectors.values()].map((d) => Buffer.byteLength(JSON.stringify(d.snapshot())));
const heapPerAgent = (heapAfter - heapBefore) / AGENTS;

// Throughput: alternate baseline and detector rounds so drift in machine load hits both alike.
runBaseline(detectors, MEASURED / 5, 0);
const detectRates: number[] = [];
const baselineRates: number[] = [];
let anomalies = 0;
for (let round = 0; round < ROUNDS; round++) {
  const base = timed(() => runBaseline(detectors, MEASURED, round * 7919));
  baselineRates.push(MEASURED / base.seconds);
  const detect = timed(() => runDetect(detectors, MEASURED, round * 7919));
  detectRates.push(MEASURED / detect.seconds);
  anomalies += detect.result;
}

const detectRate = median(detectRates);
const baselineRate = median(baselineRates);
const result = {
  bench: 'core/learn-detect',
  node: process.version,
  agents: AGENTS,
  vitals_per_round: MEASURED,
  rounds: ROUNDS,
  learn_detect_vitals_per_s: Math.round(detectRate),
  baseline_lookup_only_vitals_per_s: Math.round(baselineRate),
  ratio_detect_to_baseline: Number((detectRate / baselineRate).toFixed(3)),
  ns_per_vital: Number((1e9 / detectRate).toFixed(1)),
  anomalies_per_round: Math.round(anomalies / ROUNDS),
  state_bytes_per_agent_serialised_median: median(snapshotBytes),
  state_bytes_per_agent_serialised_max: Math.max(...snapshotBytes),
  state_bytes_per_agent_heap: Math.round(heapPerAgent),
  heap_measured_with_gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
};
console.log(JSON.stringify(result, null, 2));
console.log(
  `learn+detect: ${(detectRate / 1e6).toFixed(2)}M vitals/s on one core for ${AGENTS} agents ` +
    `(${result.ratio_detect_to_baseline}x the lookup-only baseline); state ${result.state_bytes_per_agent_heap} B heap, ` +
    `${result.state_bytes_per_agent_serialised_max} B serialised per agent`,
);
