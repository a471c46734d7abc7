/**
 * The sentinel's benchmark (`pnpm --filter @immune/sentinel bench`, or `pnpm bench`):
 *
 * 1. Vitals/s on one core through the service's processing path (decode + validate the envelope as the bus
 *    does, then `Sentinel.handle`: triage, metrics, ack gate), next to two baselines measured in the same run:
 *    decode + validate alone, and `AgentTriage.observe` alone. Steady state (warm code, known agents), median
 *    of three passes; the first vitals of new agents are reported on their own.
 * 2. p50/p99 from "vital published" to "quarantine entry seen in KV by a watcher" at 5k vitals/s on the real
 *    NATS (and PostgreSQL for checkpoints), with the consumer in a process of its own, next to the same path
 *    with a trivial consumer that writes the KV entry without any judging (the floor NATS and this machine
 *    set). Also "published -> KV put acknowledged", timed by the consumer itself.
 * 3. State bytes per agent: the checkpoint (JSON) and the heap.
 *
 * Needs NATS and PostgreSQL like the integration tests (NATS_URL / DATABASE_URL, else the local defaults).
 * While working on one part: BENCH_ONLY=throughput|latency|state; BENCH_FLAGS="--trace-gc" (or --cpu-prof...)
 * adds Node flags to the sentinel's process in part 2; SENTINEL_* variables configure that sentinel.
 */

import { fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  type Bus,
  checkVitalEnvelope,
  connectNatsBus,
  createEmbeddedBus,
  QUARANTINE_BUCKET,
  type VitalDelivery,
} from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { AgentTriage } from '@immune/core';
import { createLogger, loadConfig } from '@immune/runtime';
import { openStore } from '@immune/store';
import { SentinelEnv } from '../src/config.js';
import { Sentinel, triageConfigFrom } from '../src/sentinel.js';
import { normalVital, rng, spike } from '../test/fixtures.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const gc = (globalThis as { gc?: () => void }).gc;

function envConfig(env: Record<string, string> = {}) {
  return loadConfig(SentinelEnv, { LOG_LEVEL: 'silent', ...env });
}

/** `rounds` vitals per agent, round-robin over the fleet as a live fleet interleaves, as bus messages. */
function fleetTraffic(agents: number, fromRound: number, rounds: number, random: () => number): string[] {
  const out: string[] = [];
  const t0 = Date.now() - 100_000;
  for (let r = fromRound; r < fromRound + rounds; r++) {
    for (let a = 0; a < agents; a++) {
      const vital = normalVital(`bench-agent-${a}`, t0 + r * 1_000 + a, random, {
        request_hash: `req-${a}-${r}`,
      });
      out.push(
        JSON.stringify({
          v: 1,
          id: vital.id,
          ts: vital.ts,
          type: 'vital',
          agentId: vital.agent_id,
          data: vital,
        }),
      );
    }
  }
  return out;
}

/** Stream sequences for the decoded deliveries: increasing, like a stream's, so none is taken for a redelivery. */
let nextSeq = 0;

function decode(text: string): VitalDelivery {
  const checked = checkVitalEnvelope(JSON.parse(text));
  if (!checked.ok) throw new Error(checked.issues);
  return {
    vital: checked.envelope.data,
    envelope: checked.envelope,
    partition: 0,
    redelivered: false,
    deliveryCount: 1,
    streamSeq: ++nextSeq,
  };
}

function rate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One timed run of `run` over `count` vitals, after a full collection so earlier garbage is not billed. */
async function timed(count: number, run: () => Promise<void> | void): Promise<number> {
  gc?.();
  const start = performance.now();
  await run();
  return (count / (performance.now() - start)) * 1000;
}

const PASSES = 3;
const AGENTS = 10_000;
const WARM_ROUNDS = 15;
const STEADY_ROUNDS = 30;

/**
 * Part 1. Each path runs `PASSES` times and reports its median, after an untimed pass over a separate small
 * fleet so that every path is measured with optimised code (a sentinel runs for days; the first seconds of
 * JIT compilation are not its throughput). A pass starts a fresh triage or sentinel, lets it meet the fleet
 * (`WARM_ROUNDS` vitals per agent: first sight, baselines learning; timed and reported on its own), then
 * times `STEADY_ROUNDS` more per agent: judging against warm baselines, what a running sentinel does.
 */
async function throughput(): Promise<void> {
  const random = rng(1);
  const warmup = fleetTraffic(AGENTS, 0, WARM_ROUNDS, random);
  const steady = fleetTraffic(AGENTS, WARM_ROUNDS, STEADY_ROUNDS, random);
  const jitWarmup = fleetTraffic(1_000, 0, WARM_ROUNDS + 5, rng(2));
  const store = await openStore({ inMemory: true });
  const bus = createEmbeddedBus();
  const config = envConfig();
  // Effects (KV, events, rows) are I/O, measured in part 2; here they are counted but not sent.
  let effects = 0;
  const freshSentinel = () =>
    new Sentinel({
      config,
      bus,
      store,
      logger,
      effects: { enforce: async () => undefined, record: async () => void effects++ },
    });
  const paths = {
    decode: (messages: string[]) => {
      let n = 0;
      for (const m of messages) if (decode(m).vital.ts > 0) n++;
      if (n !== messages.length) throw new Error('decode lost vitals');
    },
    triage: (triage: AgentTriage, messages: string[]) => {
      for (const m of messages) triage.observe(decode(m).vital);
    },
    // Synchronous, as the bus calls it: `handle` returns its ack gate without a promise (see the bus's settle).
    service: (sentinel: Sentinel, messages: string[]) => {
      for (const m of messages) sentinel.handle(decode(m));
    },
  };
  paths.decode(jitWarmup);
  paths.triage(new AgentTriage(triageConfigFrom(config)), jitWarmup);
  paths.service(freshSentinel(), jitWarmup);

  const decodeRuns: number[] = [];
  const triageRuns: number[] = [];
  const serviceRuns: number[] = [];
  const firstSightRuns: number[] = [];
  let sentinel = freshSentinel();
  for (let pass = 0; pass < PASSES; pass++) {
    decodeRuns.push(await timed(steady.length, () => paths.decode(steady)));
    const triage = new AgentTriage(triageConfigFrom(config));
    paths.triage(triage, warmup);
    triageRuns.push(await timed(steady.length, () => paths.triage(triage, steady)));
    sentinel = freshSentinel();
    effects = 0;
    const first = sentinel;
    firstSightRuns.push(await timed(warmup.length, () => paths.service(first, warmup)));
    serviceRuns.push(await timed(steady.length, () => paths.service(first, steady)));
  }
  const decodeOnly = median(decodeRuns);
  const triageOnly = median(triageRuns);
  const service = median(serviceRuns);
  const line = (label: string, runs: number[]) =>
    console.log(
      `  ${label.padEnd(56)} ${rate(median(runs)).padStart(10)}  (passes: ${runs.map((r) => Math.round(r / 1000)).join(', ')} k/s)`,
    );
  console.log(
    `\n1. Vitals/s on one core: ${AGENTS.toLocaleString('en-US')} agents, ${STEADY_ROUNDS} vitals each against warm baselines (${steady.length.toLocaleString('en-US')} vitals), median of ${PASSES} passes`,
  );
  line('baseline: decode + validate envelope', decodeRuns);
  line('baseline: decode + validate + AgentTriage.observe', triageRuns);
  line('service path: decode + validate + Sentinel.handle', serviceRuns);
  console.log(
    `  -> service path is ${(service / decodeOnly).toFixed(2)}x decode-only and ${(service / triageOnly).toFixed(2)}x triage-only; aim 200,000/s: ${service >= 200_000 ? 'met' : 'NOT met'}`,
  );
  line(`service path, first ${WARM_ROUNDS} vitals of each agent (new agents)`, firstSightRuns);
  console.log(`  (${effects} decision lists with effects in the last pass, not sent)`);
  const checkpointStart = performance.now();
  let checkpointBytes = 0;
  for (const id of sentinel.triage.agentIds()) {
    checkpointBytes += JSON.stringify(sentinel.triage.snapshot(id)).length;
  }
  const checkpointMs = performance.now() - checkpointStart;
  console.log(
    `  snapshotting + serialising all ${sentinel.triage.size.toLocaleString('en-US')} agents for a checkpoint: ${checkpointMs.toFixed(0)} ms (${((checkpointMs * 1000) / sentinel.triage.size).toFixed(1)} µs/agent, ${(checkpointBytes / 1e6).toFixed(1)} MB)`,
  );
  await bus.drain();
  await store.close();
}

function stateBytes(): void {
  console.log('\n3. State bytes per agent');
  const random = rng(3);
  const build = (agents: number, withKinds: boolean) => {
    const triage = new AgentTriage(triageConfigFrom(envConfig()));
    for (let r = 0; r < 40; r++) {
      for (let a = 0; a < agents; a++) {
        triage.observe(normalVital(`s-${a}`, r * 1_000, random, { request_hash: `h-${r % 7}` }));
        if (withKinds && r % 2 === 0) {
          triage.observe(
            normalVital(`s-${a}`, r * 1_000 + 1, random, {
              kind: 'tool',
              tool_name: 'search',
              request_hash: `t-${r}`,
            }),
          );
        }
      }
    }
    return triage;
  };
  for (const withKinds of [false, true]) {
    const triage = build(1_000, withKinds);
    let bytes = 0;
    let packed = 0;
    for (const id of triage.agentIds()) {
      const snapshot = triage.snapshot(id)!;
      bytes += JSON.stringify(snapshot).length;
      packed += snapshot.packed.length;
    }
    const label = withKinds ? 'LLM + tool calls (two baselines)' : 'LLM calls only (one baseline)';
    console.log(
      `  checkpoint JSON, ${label.padEnd(34)} ${(bytes / triage.size).toFixed(0)} B/agent (packed rings ${(packed / triage.size).toFixed(0)} B)`,
    );
  }
  if (gc) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const triage = build(20_000, false);
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(
      `  heap, LLM calls only, 20k agents (incl. 5 recent vitals kept per agent): ${((after - before) / triage.size).toFixed(0)} B/agent`,
    );
  }
}

interface LatencyRun {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

function percentiles(values: number[]): LatencyRun {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1)!, samples: sorted.length };
}

/**
 * Publishes warm-up traffic, then 5k vitals/s for `seconds`, 1 % of them a severe spike on a healthy agent.
 * Returns publish -> KV-seen latencies of those spikes.
 */
async function drive(
  bus: Bus,
  agents: number,
  seconds: number,
  isReady: () => boolean | Promise<boolean>,
  onMeasure: () => void,
): Promise<number[]> {
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const random = rng(11);
  const kv = await bus.kv(QUARANTINE_BUCKET);
  const publishedAt = new Map<string, number>();
  const decided = new Set<string>();
  const latencies: number[] = [];
  // The entry's `since` is the timestamp of the vital that decided it, so the latency is measured from the
  // publication of exactly that vital, whichever of an agent's spikes it was.
  const watch = await kv.watch(({ key, value }) => {
    if (value === undefined) return;
    const start = publishedAt.get(`${key}|${value.since}`);
    if (start !== undefined && !decided.has(key)) {
      decided.add(key);
      latencies.push(performance.now() - start);
    }
  });
  await watch.ready;
  const t0 = Date.now() - 30_000;
  // The warm-up is not measured: published 100 at a time, so a loaded machine does not time out a thousand
  // publications waiting for their acks at once.
  for (let r = 0; r < 20; r++) {
    for (let from = 0; from < agents; from += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, agents - from) }, (_, i) =>
          bus.publishVital(normalVital(`lat-${from + i}`, t0 + r * 1_000, random)),
        ),
      );
    }
  }
  const deadline = Date.now() + 60_000;
  while (!(await isReady()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const perTick = 50; // every 10 ms: 5k/s
  const ticks = (seconds * 1000) / 10;
  let sent = 0;
  // Each tick, the agents currently misbehaving send one spike each, four ticks in a row (a detector may want
  // its evidence corroborated before it escalates); a new agent starts misbehaving every other tick.
  const active: Array<{ agent: string; left: number }> = [];
  let nextSick = 0;
  const started = performance.now();
  loopDelay.enable();
  onMeasure();
  for (let tick = 0; tick < ticks; tick++) {
    const batch: Promise<void>[] = [];
    if (tick % 2 === 0 && nextSick < agents / 2) active.push({ agent: `lat-${nextSick++}`, left: 4 });
    const ts = Date.now();
    for (const sick of active) {
      sent++;
      publishedAt.set(`${sick.agent}|${ts}`, performance.now());
      batch.push(bus.publishVital(normalVital(sick.agent, ts, random, spike(10))));
      sick.left--;
    }
    for (let k = active.length - 1; k >= 0; k--) if (active[k]!.left === 0) active.splice(k, 1);
    for (let i = batch.length; i < perTick; i++) {
      sent++;
      batch.push(bus.publishVital(normalVital(`lat-${agents / 2 + (sent % (agents / 2))}`, ts, random)));
    }
    await Promise.all(batch);
    const next = started + (tick + 1) * 10;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const achieved = sent / ((performance.now() - started) / 1000);
  loopDelay.disable();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await watch.stop();
  console.log(
    `    published ${sent} vitals at ${Math.round(achieved)}/s (aimed at 5000/s); ${latencies.length} of ${nextSick} quarantines seen; the bench process's event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`,
  );
  if (latencies.length === 0) latencies.push(Number.NaN);
  return latencies;
}

interface ConsumerReport {
  ready?: boolean;
  processed?: number;
  busy?: number;
  loopDelay?: { p50: number; p99: number; max: number };
  checkpoint?: { rows: number; durationMs: number };
  written?: number[];
}

/** Starts `consumer-process.ts` in its own Node process, as a deployment runs the sentinel. */
async function startConsumer(mode: 'sentinel' | 'floor', natsUrl: string, prefix: string) {
  const child = fork(fileURLToPath(new URL('./consumer-process.ts', import.meta.url)), [], {
    execArgv: [
      '--conditions=@immune/source',
      '--import',
      'tsx',
      ...(process.env.BENCH_FLAGS && mode === 'sentinel' ? process.env.BENCH_FLAGS.split(' ') : []),
    ],
    env: { ...process.env, BENCH_CONSUMER: mode, BENCH_NATS_URL: natsUrl, BENCH_PREFIX: prefix },
  });
  const last: ConsumerReport = { processed: 0 };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: ConsumerReport) => {
      Object.assign(last, message);
      if (message.ready) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`${mode} consumer exited with ${code} before it was ready`)),
    );
  });
  await ready;
  return {
    processed: () => last.processed ?? 0,
    busy: () => last.busy ?? 0,
    measure: () => child.send({ measure: true }),
    async stop(): Promise<ConsumerReport> {
      child.send({ stop: true });
      await exited;
      return last;
    },
  };
}

async function latency(): Promise<void> {
  console.log(
    '\n2. Published -> quarantine entry seen in KV, at 5k vitals/s on NATS (1 % severe spikes); the consumer runs in its own process',
  );
  const natsUrl = await natsUrlForTests();
  const agents = 1_000;
  const seconds = 10;
  const runs: Array<['floor' | 'sentinel', string]> = [
    ['floor', 'baseline (trivial consumer writes KV): '],
    ['sentinel', 'sentinel (judge, lifecycle, KV, events):'],
  ];
  for (const [mode, label] of runs) {
    const prefix = uniquePrefix(`bench${mode}`);
    const client = await connectNatsBus({ url: natsUrl, prefix });
    const consumer = await startConsumer(mode, natsUrl, prefix);
    const run = percentiles(
      // Measured from a settled state: the warm-up's thousand HEALTHY transitions written, as in steady operation.
      await drive(
        client,
        agents,
        seconds,
        async () => {
          if (consumer.processed() < agents * 20 || consumer.busy() > 0) return false;
          // Settled means acked too: the warm-up's checkpoint written and its thousands of acks sent.
          const lag = await client.vitalsLag(mode === 'floor' ? 'floor' : 'sentinel');
          return lag.pending === 0 && lag.ackPending === 0;
        },
        consumer.measure,
      ),
    );
    const report = await consumer.stop();
    console.log(
      `  ${label} p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms  max ${run.max.toFixed(1)} ms`,
    );
    if (report.written && report.written.length > 0) {
      const put = percentiles(report.written);
      console.log(
        `    published -> KV put acknowledged (the consumer's clock, ms resolution): p50 ${put.p50} ms  p99 ${put.p99} ms  max ${put.max} ms  (${put.samples} entries)`,
      );
    }
    const delay = report.loopDelay;
    if (delay) {
      console.log(
        `    its event-loop delay while measured: p50 ${delay.p50.toFixed(1)} ms  p99 ${delay.p99.toFixed(1)} ms  max ${delay.max.toFixed(1)} ms`,
      );
    }
    if (report.checkpoint) {
      console.log(
        `    last checkpoint: ${report.checkpoint.rows} agents in ${report.checkpoint.durationMs} ms`,
      );
    }
    await client.drain();
    await removeTopology(natsUrl, prefix);
  }
}

console.log(`sentinel bench: node ${process.version}, ${gc ? 'with' : 'without'} --expose-gc`);
// BENCH_ONLY=throughput|latency|state runs one part (when working on it); by default all three run.
const only = process.env.BENCH_ONLY;
if (only === undefined || only === 'throughput') await throughput();
if (only === undefined || only === 'latency') await latency();
if (only === undefined || only === 'state') stateBytes();
