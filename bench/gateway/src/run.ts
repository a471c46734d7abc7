/**
 * Gateway benchmark: the Immune gateway and the Portkey gateway, each in front of the same mock upstream, against
 * the mock called directly, in one run.
 *
 *   - added latency (p50, p99) at fixed rates of 500, 1,000 and 2,000 requests/s, versus the direct mock
 *   - max throughput (no rate limit, 100 connections)
 *   - time to first byte of a streamed completion, versus the direct mock
 *   - RSS at idle and after a sustained load (BENCH_SOAK_SECONDS, default 300)
 *
 * Run: pnpm --filter @immune/bench-gateway bench            (full, about 40 minutes)
 *      BENCH_QUICK=1 pnpm --filter @immune/bench-gateway bench   (smoke run: 5 s steps, 20 s soak)
 *
 * Needs the local NATS on nats://127.0.0.1:4222 (NATS_URL to change it). Prints a JSON result and a markdown
 * report; a full run also writes the report to docs/gateway-benchmark.md (BENCH_WRITE_DOCS=0/1 to override).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { config } from './config.js';
import { type LoadResult, type RateMode, runLoad, type Target } from './load.js';
import { deleteStreams } from './nats-cleanup.js';
import { freePort, PORTKEY_ENTRY as portkeyEntry } from './ports.js';
import {
  cpuMs,
  findPid,
  installExitHandlers,
  machineBusyMs,
  rssMiB,
  type Service,
  startService,
  stopAll,
} from './processes.js';
import { renderMarkdown, withReportSection } from './report.js';
import { round1, sleep } from './stats.js';
import { measureTtfb, type TtfbResult } from './ttfb.js';
import type {
  BenchResult,
  CpuPerRequest,
  MaxRecord,
  SoakRecord,
  StepRecord,
  TargetRecord,
  VariantRecord,
} from './types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../../..');
const env = process.env;

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Pids {
  server: number | undefined;
  mock: number;
  nats: number | undefined;
}

interface CpuSample {
  server: number;
  mock: number;
  nats: number;
  loadgen: number;
  /** Busy CPU time of the whole machine, and the wall clock, ms. */
  machine: number;
  at: number;
}

function cpuNow(pids: Pids): CpuSample {
  const self = process.cpuUsage();
  return {
    server: pids.server === undefined ? Number.NaN : cpuMs(pids.server),
    mock: cpuMs(pids.mock),
    nats: pids.nats === undefined ? Number.NaN : cpuMs(pids.nats),
    loadgen: (self.user + self.system) / 1000,
    machine: machineBusyMs(),
    at: performance.now(),
  };
}

function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number): CpuPerRequest {
  const per = (a: number, b: number) => (requests > 0 ? round1(((b - a) * 1000) / requests) : Number.NaN);
  return {
    server: per(before.server, after.server),
    mock: per(before.mock, after.mock),
    nats: per(before.nats, after.nats),
    loadgen: per(before.loadgen, after.loadgen),
    otherLoadPct: otherLoad(before, after),
  };
}

/**
 * CPU the machine spent on anything but the processes measured (other tenants' work, kernel threads), as a
 * percentage of all cores over the interval. A few percent is the floor; much more means the step was disturbed.
 */
function otherLoad(before: CpuSample, after: CpuSample): number {
  const ours = (['server', 'mock', 'nats', 'loadgen'] as const)
    .map((k) => after[k] - before[k])
    .filter((v) => !Number.isNaN(v))
    .reduce((sum, v) => sum + v, 0);
  const capacity = (after.at - before.at) * cpus().length;
  return round1((100 * Math.max(0, after.machine - before.machine - ours)) / capacity);
}

/**
 * Wait (up to BENCH_WAIT_QUIET_S) until the machine is not busy with something else before starting; returns the
 * share of the cores other work used in the last 5 s, for the report.
 */
async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + config.waitQuietSeconds * 1000;
  for (;;) {
    const before = machineBusyMs();
    const at = performance.now();
    await sleep(5_000);
    const busyPct = (100 * (machineBusyMs() - before)) / ((performance.now() - at) * cpus().length);
    if (busyPct < 15) return round1(busyPct);
    if (Date.now() > deadline) {
      log(`machine still ${busyPct.toFixed(0)} % busy with other work; starting anyway`);
      return round1(busyPct);
    }
    log(`machine ${busyPct.toFixed(0)} % busy with other work; waiting for it to calm down`);
  }
}

/** The BENCH_* settings of this run, so the report names the command as it was run. */
const overrides = () =>
  Object.entries(env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`);

const fileSize = (file: string | undefined) => (file && existsSync(file) ? statSync(file).size : 0);

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

async function step(target: Target, rate: number, mode: RateMode, pids: Pids, logFile?: string) {
  const { connections } = config;
  await runLoad({ target, connections, durationS: config.warmupSeconds, rate, mode });
  const before = cpuNow(pids);
  const logBefore = fileSize(logFile);
  const load = await runLoad({ target, connections, durationS: config.stepSeconds, rate, mode });
  const after = cpuNow(pids);
  const record: StepRecord = {
    rate,
    mode,
    load,
    sustained: load.okRps >= rate * 0.98 && load.errors === 0 && load.non2xx === 0,
    cpu: cpuPerRequest(before, after, load.ok),
  };
  if (logFile) record.logBytesPerRequest = round1((fileSize(logFile) - logBefore) / Math.max(1, load.ok));
  log(
    `${target.name} ${mode} ${rate}/s: ${load.okRps} ok/s p50 ${load.latency.p50} p99 ${load.latency.p99} ms, ` +
      `non2xx ${load.non2xx} errors ${load.errors}, server ${record.cpu.server} µs/req, other load ${record.cpu.otherLoadPct} %`,
  );
  return record;
}

/** A freshly started server compiles its hot paths during its first thousands of requests. */
async function warmUp(target: Target): Promise<void> {
  await runLoad({
    target,
    connections: config.connections,
    durationS: config.warmupSeconds * 2,
    rate: 1000,
    mode: 'paced',
  });
}

async function steps(target: Target, pids: Pids, options: { stock: boolean; logFile?: string }) {
  const records: StepRecord[] = [];
  for (const rate of config.rates) records.push(await step(target, rate, 'paced', pids, options.logFile));
  if (options.stock) {
    for (const rate of config.rates) records.push(await step(target, rate, 'stock', pids, options.logFile));
  }
  return records;
}

async function maxRps(target: Target, pids: Pids): Promise<MaxRecord> {
  await runLoad({ target, connections: config.connections, durationS: 2 });
  const before = cpuNow(pids);
  const load = await runLoad({ target, connections: config.connections, durationS: config.maxSeconds });
  const record = { load, cpu: cpuPerRequest(before, cpuNow(pids), load.ok) };
  log(
    `${target.name} max: ${load.okRps} ok/s p50 ${load.latency.p50} p99 ${load.latency.p99} ms, ` +
      `non2xx ${load.non2xx} errors ${load.errors}, other load ${record.cpu.otherLoadPct} %`,
  );
  return record;
}

/** A diagnostic variant: max throughput and the CPU it costs, then latency at 1,000 req/s; half-length runs. */
async function variantRun(
  target: Target,
  pids: Pids,
  variant: { name: string; label: string },
  round: number,
): Promise<VariantRecord> {
  const seconds = Math.max(5, config.maxSeconds / 2);
  await runLoad({ target, connections: config.connections, durationS: 2 });
  const before = cpuNow(pids);
  const max = await runLoad({ target, connections: config.connections, durationS: seconds });
  const cpu = cpuPerRequest(before, cpuNow(pids), max.ok);
  const paced = await runLoad({
    target,
    connections: config.connections,
    durationS: seconds,
    rate: 1000,
    mode: 'paced',
  });
  log(
    `variant ${variant.name} round ${round}: max ${max.okRps} ok/s, ${cpu.server} µs/req (+ nats ${cpu.nats}), ` +
      `other load ${cpu.otherLoadPct} %; ` +
      `at 1,000/s p50 ${paced.latency.p50} p99 ${paced.latency.p99} ms`,
  );
  return {
    name: variant.name,
    label: variant.label,
    round,
    maxRps: max.okRps,
    cpu,
    paced1000: {
      okRps: paced.okRps,
      p50: paced.latency.p50,
      p99: paced.latency.p99,
      failed: paced.non2xx + paced.errors,
    },
  };
}

async function ttfb(target: Target): Promise<TtfbResult> {
  const result = await measureTtfb(target, config.ttfbRequests, config.ttfbWarmup);
  log(
    `${target.name} stream TTFB: p50 ${result.firstByte.p50} p99 ${result.firstByte.p99} ms, ` +
      `failed ${result.failed}/${result.requests}${result.firstFailure ? ` (${result.firstFailure.slice(0, 120)})` : ''}`,
  );
  return result;
}

async function soak(target: Target, service: Service, pids: Pids): Promise<SoakRecord> {
  await sleep(3_000);
  const rssIdleMiB = rssMiB(service.pid);
  const samples: Array<{ s: number; rssMiB: number }> = [{ s: 0, rssMiB: rssIdleMiB }];
  const every = Math.max(2, Math.min(10, Math.floor(config.soakSeconds / 10)));
  const started = Date.now();
  let peak = rssIdleMiB;
  const timer = setInterval(() => {
    const rss = rssMiB(service.pid);
    peak = Math.max(peak, rss);
    samples.push({ s: Math.round((Date.now() - started) / 1000), rssMiB: rss });
  }, every * 1000);
  let load: LoadResult;
  const before = cpuNow(pids);
  try {
    load = await runLoad({
      target,
      connections: config.connections,
      durationS: config.soakSeconds,
      rate: config.soakRate,
      mode: 'paced',
    });
  } finally {
    clearInterval(timer);
  }
  const cpu = cpuPerRequest(before, cpuNow(pids), load.ok);
  const rssEndMiB = rssMiB(service.pid);
  peak = Math.max(peak, rssEndMiB);
  await sleep(10_000);
  const rssAfterIdleMiB = rssMiB(service.pid);
  const { statusCodes: _codes, ...summary } = load;
  log(
    `${target.name} soak: idle ${rssIdleMiB} MiB, end ${rssEndMiB} MiB, peak ${peak} MiB, ${load.okRps} ok/s`,
  );
  return {
    rate: config.soakRate,
    seconds: config.soakSeconds,
    rssIdleMiB,
    samples,
    rssEndMiB,
    rssPeakMiB: peak,
    rssAfterIdleMiB,
    load: summary,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

function machine(): Record<string, string | number> {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    virtualised: /^flags\s*:.*\bhypervisor\b/m.test(info) ? 'yes' : 'no',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

async function main(expose: (result: BenchResult) => void): Promise<void> {
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const logDir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  const result: BenchResult = {
    date: new Date().toISOString(),
    quick: config.quick,
    command: [...overrides(), 'pnpm --filter @immune/bench-gateway bench'].join(' '),
    machine: machine(),
    config,
    prefix,
    loadavg: { start: loadavg().map(round1), end: [] },
    otherLoadAtStartPct: Number.NaN,
    targets: [],
    soak: {},
    variants: [],
    cleanup: { deletedStreams: [] },
  };
  expose(result);
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    try {
      result.cleanup.deletedStreams = await deleteStreams(REPO, config.natsUrl, prefix);
    } catch (error) {
      result.cleanup.error = String(error);
      log(`stream cleanup failed: ${String(error)}`);
    }
  };
  installExitHandlers(cleanup);
  result.otherLoadAtStartPct = await waitForQuiet();

  const serverCpus = config.pin ? '1' : undefined;
  if (config.pin) execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const nats = findPid('nats-server');
  log(`logs in ${logDir}; subject prefix ${prefix}; nats-server pid ${nats ?? 'not found'}`);

  const mockPort = await freePort();
  const mock = await startService({
    name: 'mock',
    args: ['--conditions=@immune/source', '--import', 'tsx', 'packages/mock-upstream/src/main.ts'],
    cwd: REPO,
    env: { MOCK_UPSTREAM_PORT: String(mockPort) },
    port: mockPort,
    readyPath: '/v1/models',
    logDir,
    cpus: serverCpus,
  });
  const upstream = `${mock.url}/v1`;
  const direct: Target = { name: 'direct', url: mock.url, headers: {} };
  const pidsOf = (service: Service | undefined): Pids => ({ server: service?.pid, mock: mock.pid, nats });

  const startGateway = async (
    name: string,
    logLevel: string,
    extra: { args?: string[]; nats?: boolean } = {},
  ) => {
    const port = await freePort();
    const service = await startService({
      name,
      args: [
        '--conditions=@immune/source',
        '--import',
        'tsx',
        ...(extra.args ?? []),
        'apps/gateway/src/main.ts',
      ],
      cwd: REPO,
      env: {
        GATEWAY_PORT: String(port),
        LLM_UPSTREAM_URL: upstream,
        HOST: '127.0.0.1',
        LOG_LEVEL: logLevel,
        ...(extra.nats === false ? {} : { NATS_URL: config.natsUrl }),
        IMMUNE_SUBJECT_PREFIX: prefix,
      },
      port,
      readyPath: '/readyz',
      logDir,
      cpus: serverCpus,
    });
    const target: Target = { name, url: service.url, headers: {} };
    return { service, target };
  };
  const startPortkey = async (name: string, preload: string[] = []) => {
    const port = await freePort();
    const service = await startService({
      name,
      args: [...preload, portkeyEntry, '--headless', `--port=${port}`],
      cwd: REPO,
      env: {},
      port,
      readyPath: '/',
      logDir,
      cpus: serverCpus,
    });
    const target: Target = {
      name,
      url: service.url,
      headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream },
    };
    return { service, target };
  };

  try {
    // 1. Direct, first pass.
    const directA: TargetRecord = { name: 'direct-a', label: 'mock upstream, direct (pass 1)', steps: [] };
    result.targets.push(directA);
    await warmUp(direct);
    directA.steps = await steps(direct, pidsOf(undefined), { stock: config.stock });
    directA.max = await maxRps(direct, pidsOf(undefined));
    directA.ttfb = await ttfb(direct);

    // 2. Our gateway, as a user starts it.
    {
      const { service, target } = await startGateway('gateway', 'warn');
      const record: TargetRecord = { name: 'gateway', label: 'Immune gateway (LOG_LEVEL=warn)', steps: [] };
      result.targets.push(record);
      await sleep(2_000);
      record.rssIdleMiB = rssMiB(service.pid);
      await warmUp(target);
      record.steps = await steps(target, pidsOf(service), { stock: config.stock, logFile: service.logFile });
      record.max = await maxRps(target, pidsOf(service));
      record.ttfb = await ttfb(target);
      await service.stop();
    }

    // 3. Portkey, unmodified.
    {
      const { service, target } = await startPortkey('portkey');
      const record: TargetRecord = { name: 'portkey', label: 'Portkey gateway 1.15.2', steps: [] };
      result.targets.push(record);
      await sleep(2_000);
      record.rssIdleMiB = rssMiB(service.pid);
      await warmUp(target);
      record.steps = await steps(target, pidsOf(service), { stock: config.stock });
      record.max = await maxRps(target, pidsOf(service));
      record.ttfb = await ttfb(target);
      await service.stop();
      if (record.ttfb.failed > 0) {
        // Its stream path fails as installed; measure TTFB on a second process with the smallest fix.
        const fixed = await startPortkey('portkey-stream-fix', [
          '--import',
          'tsx',
          '--import',
          pathToFileURL(join(HERE, 'portkey-stream-fix.ts')).href,
        ]);
        const fixRecord: TargetRecord = {
          name: 'portkey-stream-fix',
          label: 'Portkey with the stream fix (TTFB only)',
          steps: [],
          note: 'fetch preload giving Portkey mutable response headers; see src/portkey-stream-fix.ts',
        };
        result.targets.push(fixRecord);
        fixRecord.ttfb = await ttfb(fixed.target);
        await fixed.service.stop();
      }
    }

    // 4. Direct, second pass: the spread between the two passes is the noise floor.
    const directB: TargetRecord = { name: 'direct-b', label: 'mock upstream, direct (pass 2)', steps: [] };
    result.targets.push(directB);
    directB.steps = await steps(direct, pidsOf(undefined), { stock: config.stock });
    directB.max = await maxRps(direct, pidsOf(undefined));
    directB.ttfb = await ttfb(direct);

    // 5. Our gateway with LOG_LEVEL=info (fastify logs two lines per request).
    {
      const { service, target } = await startGateway('gateway-info', 'info');
      const record: TargetRecord = {
        name: 'gateway-info',
        label: 'Immune gateway (LOG_LEVEL=info)',
        steps: [],
      };
      result.targets.push(record);
      await warmUp(target);
      record.steps = await steps(target, pidsOf(service), { stock: false, logFile: service.logFile });
      record.max = await maxRps(target, pidsOf(service));
      await service.stop();
    }

    // 6. Diagnostic variants of our gateway, to put a number on where its CPU goes. Alternated with the plain
    // gateway over several rounds, because minutes apart on this machine the same process differs by 20-50 %.
    if (config.variants) {
      const preload = (file: string) => ['--import', pathToFileURL(join(HERE, 'diagnostics', file)).href];
      const variants = [
        { name: 'as-is', label: 'as a user runs it', args: [] },
        { name: 'no-http-span', label: 'no HTTP span per request', args: preload('no-http-tracing.ts') },
        {
          name: 'no-otel-tracing',
          label: 'no HTTP span, no async context manager',
          args: preload('no-otel-context.ts'),
        },
        { name: 'no-vitals', label: 'vitals not published', args: preload('no-vitals.ts') },
      ];
      for (let round = 1; round <= config.variantRounds; round++) {
        for (const variant of variants) {
          const { service, target } = await startGateway(`gateway-${variant.name}`, 'warn', variant);
          result.variants.push(await variantRun(target, pidsOf(service), variant, round));
          await service.stop();
        }
      }
    }

    // 7. Memory under sustained load, each in a fresh process.
    {
      const { service, target } = await startGateway('gateway-soak', 'warn');
      result.soak.gateway = await soak(target, service, pidsOf(service));
      await service.stop();
    }
    {
      const { service, target } = await startPortkey('portkey-soak');
      result.soak.portkey = await soak(target, service, pidsOf(service));
      await service.stop();
    }
  } finally {
    await mock.stop();
    await cleanup();
  }

  result.loadavg.end = loadavg().map(round1);
  const markdown = renderMarkdown(result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${markdown}\n`);
  if (config.writeDocs) {
    const doc = join(REPO, 'docs/gateway-benchmark.md');
    writeFileSync(doc, withReportSection(existsSync(doc) ? readFileSync(doc, 'utf8') : '', markdown));
    log('wrote its section of docs/gateway-benchmark.md');
  }
  if (env.BENCH_KEEP_LOGS !== '1') rmSync(logDir, { recursive: true, force: true });
}

let partial: BenchResult | undefined;
try {
  await main((result) => {
    partial = result;
  });
  process.exit(0);
} catch (error) {
  console.error(error);
  await stopAll();
  if (partial) process.stdout.write(`${JSON.stringify({ failed: String(error), partial }, null, 2)}\n`);
  process.exit(1);
}
