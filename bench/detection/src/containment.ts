/**
 * Containment on the real stack: the real gateway in front of the mock upstream, the real sentinel, NATS
 * (NATS_URL, default nats://127.0.0.1:4222) and PostgreSQL (DATABASE_URL, own schema). Each trial warms one
 * agent at 5 calls/s of ~300 output tokens, then it asks for 4,000 output tokens per call at the same rate and
 * gets them, until the gateway clamps a call (the upstream sees max_tokens < 4,000) or refuses it.
 *
 *   pnpm --filter @immune/bench-detection bench:containment [--trials 4] [--no-soft] [--write]
 *
 * Reports, per trial: runaway calls served in full before the first clamped or refused call, and the time
 * from the first runaway call to that call (and to the soft entry reaching the gateway's view). At most 4
 * trials per run: the runaway agents are the whole fleet here, and a 5th token explosion within the fleet
 * correlator's 60 s window is fleet-wide by definition (5 agents), so it is rightly not contained. `--write`
 * also runs 2 trials with soft containment off and writes both into docs/detection-benchmark.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { GatewayEnv, type RunningGateway, startGateway } from '@immune/gateway';
import { MockUpstream } from '@immune/mock-upstream';
import {
  createLogger,
  createPrometheusMetrics,
  loadConfig,
  type RunningService,
  runService,
  type ServiceContext,
} from '@immune/runtime';
import { type Sentinel, SentinelEnv, startSentinel } from '@immune/sentinel';
import { createTestStore } from '@immune/store/testing';
import { withDocSection } from './doc-section.js';
import { Random } from './random.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '4' },
    'no-soft': { type: 'boolean', default: false },
    seed: { type: 'string', default: '13' },
    write: { type: 'boolean', default: false },
  },
});
const random = new Random(Number(values.seed));
const INTERVAL_MS = 200;
const ASK = 4_000;

interface Trial {
  served: number;
  ms: number;
  entryMs: number | undefined;
  how: string;
}

async function main(soft: boolean, trials: number): Promise<Trial[]> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('bench-contain');
  const partitions = 4;
  const store = await createTestStore();
  const mock = await MockUpstream.start({ record: 1_000 });
  const services: RunningService[] = [];
  const run = async <T>(name: string, start: (c: ServiceContext, bus: Bus) => Promise<T>): Promise<T> => {
    const bus = await connectNatsBus({ url: natsUrl, prefix, partitions, name });
    let started: T | undefined;
    services.push(
      await runService({
        name,
        logger: createLogger({ service: name, level: 'silent', format: 'json' }),
        ownProcess: false,
        shutdownTimeoutMs: 15_000,
        drainDelayMs: 0,
        async start(context) {
          context.shutdown.onBusDrain(() => bus.drain(), 'bus');
          started = await start(context, bus);
        },
      }),
    );
    return started as T;
  };
  // Production settings (10 s fleet hold, 500 ms checkpoints) except the partition count.
  const { sentinel } = await run('sentinel', (context, bus) =>
    startSentinel(context, {
      config: loadConfig(SentinelEnv, {
        SENTINEL_PORT: '0',
        HOST: '127.0.0.1',
        IMMUNE_PARTITIONS: String(partitions),
        IMMUNE_SUBJECT_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        SENTINEL_SOFT_CONTAINMENT: String(soft),
      }),
      bus,
      store,
      metrics: createPrometheusMetrics({ serviceName: 'sentinel' }),
    }),
  );
  const gateway: RunningGateway = await run('gateway', (context, bus) =>
    startGateway(context, {
      config: loadConfig(GatewayEnv, {
        LLM_UPSTREAM_URL: `${mock.url}/v1`,
        GATEWAY_PORT: '0',
        HOST: '127.0.0.1',
        IMMUNE_SUBJECT_PREFIX: prefix,
        LOG_LEVEL: 'silent',
      }),
      bus,
      metrics: createPrometheusMetrics({ serviceName: 'gateway' }),
    }),
  );
  const url = `http://127.0.0.1:${gateway.port}/v1/chat/completions`;
  let asked = 0;
  const call = async (agent: string): Promise<number> => {
    asked++;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-immune-agent': agent },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        max_tokens: ASK,
        messages: [{ role: 'user', content: `part ${asked}` }],
      }),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const lastAsk = (agent: string): number | undefined => {
    for (let i = mock.requests.length - 1; i >= 0; i--) {
      const r = mock.requests[i]!;
      if (r.headers['x-immune-agent'] === agent) return (r.body as { max_tokens?: number }).max_tokens;
    }
    return undefined;
  };
  const results: Trial[] = [];
  try {
    for (let trial = 0; trial < trials; trial++) {
      const agent = `runaway-${trial}.agent`;
      await warm(agent, sentinel, mock, call);
      mock.setBehaviour(agent, { outputTokens: ASK, latencyMs: 100 });
      const t0 = performance.now();
      let entryMs: number | undefined;
      const watch = setInterval(() => {
        if (entryMs === undefined && gateway.gateway.quarantine.soft.entryOf(agent) !== undefined)
          entryMs = performance.now() - t0;
      }, 2);
      let served = 0;
      let how = 'none within 30 s';
      let ms = Number.NaN;
      for (let i = 0; i < 150; i++) {
        const sentAt = performance.now();
        const status = await call(agent);
        if (status !== 200) {
          how = `refused ${status}`;
          ms = sentAt - t0;
          break;
        }
        const asked = lastAsk(agent);
        if (asked !== undefined && asked < ASK) {
          how = `clamped to ${asked}`;
          ms = sentAt - t0;
          break;
        }
        served++;
        await sleepUntil(sentAt + INTERVAL_MS);
      }
      clearInterval(watch);
      results.push({ served, ms, entryMs, how });
      console.log(
        `trial ${trial}: ${served} runaway calls served in full, then ${how} at ${ms.toFixed(0)} ms` +
          (entryMs === undefined ? '' : ` (soft entry at the gateway after ${entryMs.toFixed(0)} ms)`),
      );
    }
  } finally {
    for (const service of services.reverse()) await service.stop('bench over');
    await removeTopology(natsUrl, prefix);
    await store.cleanup();
    await mock.close();
  }
  console.log(`\n${summary(soft, results)}`);
  return results;

  /** 30 calls of 250–350 output tokens at 5 calls/s, until the sentinel calls the agent HEALTHY. */
  async function warm(
    agent: string,
    s: Sentinel,
    m: MockUpstream,
    send: (agent: string) => Promise<number>,
  ): Promise<void> {
    // Until HEALTHY, at least 30 calls: a latency blip on a loaded machine may open (and clear) a suspicion.
    // (cleared when the 30 s suspect window is over, so the deadline is longer).
    const deadline = Date.now() + 45_000;
    for (let i = 0; i < 30 || s.triage.lifecycleOf(agent)?.state !== 'HEALTHY'; i++) {
      if (Date.now() > deadline) throw new Error(`${agent} is not HEALTHY after warm-up`);
      const sentAt = performance.now();
      m.setBehaviour(agent, { outputTokens: Math.round(random.between(250, 350)), latencyMs: 100 });
      if ((await send(agent)) !== 200) throw new Error(`${agent}: warm-up call refused`);
      await sleepUntil(sentAt + INTERVAL_MS);
    }
  }
}

function summary(soft: boolean, results: readonly Trial[]): string {
  const served = results.map((r) => r.served).sort((a, b) => a - b);
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  return (
    `soft containment ${soft ? 'on' : 'off'}, ${results.length} trials, 4,000-token asks at 5 calls/s: calls ` +
    `served median ${served[Math.floor(served.length / 2)]} (max ${served.at(-1)}), time median ` +
    `${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms (max ${ms.at(-1)!.toFixed(0)} ms)`
  );
}

function row(soft: boolean, trial: number, r: Trial): string {
  const entry = r.entryMs === undefined ? '–' : `${r.entryMs.toFixed(0)} ms`;
  return `| ${soft ? 'on' : 'off'} | ${trial} | ${r.served} | ${r.how} | ${r.ms.toFixed(0)} ms | ${entry} |`;
}

function section(on: readonly Trial[], off: readonly Trial[]): string {
  return [
    '## Containment',
    '',
    'Generated by `pnpm --filter @immune/bench-detection bench:containment --write` (src/containment.ts), on the',
    'real stack in one process: the real gateway in front of the mock upstream, the real sentinel with its',
    'production settings (10 s fleet hold), NATS and PostgreSQL. Each trial warms one agent at 5 calls/s of',
    '250–350 output tokens (100 ms each), then it asks for 4,000 output tokens per call at the same rate and the upstream',
    'answers them. Counted: runaway calls served in full before the first call the gateway clamps (the upstream',
    'sees `max_tokens` below 4,000) or refuses; the time is from sending the first runaway call to sending that',
    'call (calls are 200 ms apart, so it moves in steps of 200 ms). Aim: ≤ 3 calls and ≤ 1 s.',
    '',
    `- ${summary(true, on)}`,
    `- ${summary(false, off)}`,
    '',
    '| soft containment | trial | calls served in full | then | after | soft entry at the gateway |',
    '|---|---|---|---|---|---|',
    ...on.map((r, i) => row(true, i, r)),
    ...off.map((r, i) => row(false, i, r)),
    '',
    'The first runaway call opens the suspicion (one vital alone is never corroborated); the second is',
    "corroborated and severe, and the sentinel writes the soft entry; the third is clamped to the agent's",
    'baseline band. Without soft containment the agent is refused only when the 10 s fleet hold ends. One',
    'machine, shared and loaded (2 cores), single runs: the time is dominated by the 200 ms call spacing.',
  ].join('\n');
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

const soft = !values['no-soft'];
const results = await main(soft, Number(values.trials));
if (values.write) {
  const off = soft ? await main(false, 2) : results;
  const on = soft ? results : await main(true, 4);
  const target = new URL('../../../docs/detection-benchmark.md', import.meta.url);
  writeFileSync(target, withDocSection(readFileSync(target, 'utf8'), 'containment', section(on, off)));
  console.log('written to docs/detection-benchmark.md');
}
