/**
 * CPU time per request, side by side in one run: the mock upstream called directly (the baseline: a bare
 * node:http server answering the call), our gateway in front of it, and Portkey in front of it, non-streamed
 * and streamed, at a fixed rate. CPU time comes from /proc/<pid>/stat (10 ms ticks), which is steady on a
 * shared machine where latency is not. The targets alternate over several rounds; each round's ratios are
 * computed within that round.
 *
 * The gateway runs from `dist/` as deployed (build first: `pnpm --filter "@immune/gateway..." build`), or
 * from source with BENCH_GATEWAY_FROM=source. Besides the plain gateway step, a `contained` step sends the same
 * load through the same gateway with every agent softly contained (see soft-containment.ts).
 *
 * Run: pnpm --filter @immune/bench-gateway bench:cpu        (BENCH_CPU_ROUNDS=3, BENCH_CPU_SECONDS=20, rate 1,000/s)
 * Needs the local NATS (NATS_URL). Prints a JSON result and a markdown table.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runLoad, type Target } from './load.js';
import { deleteStreams } from './nats-cleanup.js';
import { freePort, PORTKEY_ENTRY as portkeyEntry } from './ports.js';
import {
  cpuMs,
  findPid,
  installExitHandlers,
  machineBusyMs,
  type Service,
  startService,
} from './processes.js';
import { softlyContain } from './soft-containment.js';
import { round1 } from './stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../../..');
const env = process.env;
const ROUNDS = Number(env.BENCH_CPU_ROUNDS ?? 3);
/** BENCH_CPU_TARGETS=direct,gateway to leave Portkey and the contained step out (profiling). */
const TARGETS = (env.BENCH_CPU_TARGETS ?? 'direct,gateway,contained,portkey').split(',');
const GATEWAY_FROM = env.BENCH_GATEWAY_FROM === 'source' ? 'source' : 'dist';
const SECONDS = Number(env.BENCH_CPU_SECONDS ?? 20);
const RATE = Number(env.BENCH_CPU_RATE ?? 1000);
const NATS_URL = env.NATS_URL ?? 'nats://127.0.0.1:4222';

const log = (message: string) =>
  process.stderr.write(`[bench-cpu ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

interface Measure {
  target: string;
  stream: boolean;
  round: number;
  okRps: number;
  failed: number;
  /** CPU µs per 2xx response. */
  server: number;
  mock: number;
  nats: number;
  /** Everything else on the machine, % of all cores. */
  otherLoadPct: number;
}

async function measure(
  target: Target,
  pids: { server?: number; mock: number; nats?: number },
  stream: boolean,
) {
  await runLoad({ target, connections: 100, durationS: 5, rate: RATE, mode: 'paced', stream });
  const sample = () => ({
    server: pids.server === undefined ? 0 : cpuMs(pids.server),
    mock: cpuMs(pids.mock),
    nats: pids.nats === undefined ? 0 : cpuMs(pids.nats),
    self: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    machine: machineBusyMs(),
    at: performance.now(),
  });
  const before = sample();
  const load = await runLoad({
    target,
    connections: 100,
    durationS: SECONDS,
    rate: RATE,
    mode: 'paced',
    stream,
  });
  const after = sample();
  const per = (key: 'server' | 'mock' | 'nats') =>
    round1(((after[key] - before[key]) * 1000) / Math.max(1, load.ok));
  const ours = (['server', 'mock', 'nats', 'self'] as const).reduce(
    (sum, k) => sum + after[k] - before[k],
    0,
  );
  const otherLoadPct = round1(
    (100 * Math.max(0, after.machine - before.machine - ours)) / ((after.at - before.at) * 2),
  );
  return {
    okRps: load.okRps,
    failed: load.non2xx + load.errors,
    server: per('server'),
    mock: per('mock'),
    nats: per('nats'),
    otherLoadPct,
  };
}

async function main(): Promise<void> {
  const prefix = `benchcpu${randomBytes(4).toString('hex')}`;
  const logDir = mkdtempSync(join(tmpdir(), 'bench-gateway-cpu-'));
  installExitHandlers(async () => {
    await deleteStreams(REPO, NATS_URL, prefix).catch(() => undefined);
  });
  const nats = findPid('nats-server');
  const mockPort = await freePort();
  const mock = await startService({
    name: 'mock',
    args: ['--conditions=@immune/source', '--import', 'tsx', 'packages/mock-upstream/src/main.ts'],
    cwd: REPO,
    env: { MOCK_UPSTREAM_PORT: String(mockPort) },
    port: mockPort,
    readyPath: '/v1/models',
    logDir,
  });
  const upstream = `${mock.url}/v1`;
  const gatewayPort = await freePort();
  const dist = join(REPO, 'apps/gateway/dist/main.js');
  if (GATEWAY_FROM === 'dist' && !existsSync(dist))
    throw new Error(
      `${dist} is missing: pnpm --filter "@immune/gateway..." build (or BENCH_GATEWAY_FROM=source)`,
    );
  const gateway = await startService({
    name: 'gateway',
    // BENCH_CPU_PROFILE=<dir>: the gateway writes a V8 CPU profile there when it stops (`--cpu-prof`).
    args: [
      ...(env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_CPU_PROFILE}`] : []),
      ...(GATEWAY_FROM === 'dist'
        ? [dist]
        : ['--conditions=@immune/source', '--import', 'tsx', 'apps/gateway/src/main.ts']),
    ],
    cwd: REPO,
    env: {
      GATEWAY_PORT: String(gatewayPort),
      LLM_UPSTREAM_URL: upstream,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NATS_URL,
      IMMUNE_SUBJECT_PREFIX: prefix,
    },
    port: gatewayPort,
    readyPath: '/readyz',
    logDir,
  });
  const portkeyPort = await freePort();
  // Portkey's stream path fails as installed (see portkey-stream-fix.ts); the one-line fix changes no cost.
  const portkey: Service = await startService({
    name: 'portkey',
    args: [
      '--import',
      'tsx',
      '--import',
      pathToFileURL(join(HERE, 'portkey-stream-fix.ts')).href,
      portkeyEntry,
      '--headless',
      `--port=${portkeyPort}`,
    ],
    cwd: REPO,
    env: {},
    port: portkeyPort,
    readyPath: '/',
    logDir,
  });
  const targets: Array<{
    name: string;
    target: Target;
    pids: { server?: number; mock: number; nats?: number };
  }> = [
    { name: 'direct', target: { name: 'direct', url: mock.url, headers: {} }, pids: { mock: mock.pid } },
    {
      name: 'gateway',
      target: { name: 'gateway', url: gateway.url, headers: {} },
      pids: { server: gateway.pid, mock: mock.pid, ...(nats ? { nats } : {}) },
    },
    {
      name: 'contained',
      target: { name: 'contained', url: gateway.url, headers: {} },
      pids: { server: gateway.pid, mock: mock.pid, ...(nats ? { nats } : {}) },
    },
    {
      name: 'portkey',
      target: {
        name: 'portkey',
        url: portkey.url,
        headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream },
      },
      pids: { server: portkey.pid, mock: mock.pid },
    },
  ];
  const results: Measure[] = [];
  const load = { start: loadavg().map(round1), end: [] as number[] };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const stream of [false, true]) {
        for (const { name, target, pids } of targets.filter((t) => TARGETS.includes(t.name))) {
          const release =
            name === 'contained'
              ? await softlyContain({ repo: REPO, natsUrl: NATS_URL, prefix, gateway: target })
              : undefined;
          const m = await measure(target, pids, stream);
          await release?.();
          results.push({ target: name, stream, round, ...m });
          log(
            `round ${round} ${stream ? 'streamed' : 'plain'} ${name}: ${m.okRps} ok/s, server ${m.server} µs, mock ${m.mock} µs, nats ${m.nats} µs, other load ${m.otherLoadPct} %`,
          );
        }
      }
    }
  } finally {
    await Promise.all([mock.stop(), gateway.stop(), portkey.stop()]);
    await deleteStreams(REPO, NATS_URL, prefix).catch(() => undefined);
    rmSync(logDir, { recursive: true, force: true });
  }
  load.end = loadavg().map(round1);
  process.stdout.write(
    `${JSON.stringify({ rate: RATE, seconds: SECONDS, rounds: ROUNDS, gateway: GATEWAY_FROM, loadavg: load, results }, null, 2)}\n\n`,
  );
  process.stdout.write(`${renderCpuTable(results)}\n`);
}

/** One line per round and mode: each ratio is against the mock's own CPU per request measured in that round. */
export function renderCpuTable(results: readonly Measure[]): string {
  const lines = [
    '| round | request | mock alone µs/req | gateway µs/req (+ nats) | gateway / mock | gateway ok/s | contained µs/req | contained / mock | Portkey µs/req | Portkey / mock | gateway / Portkey | other load % |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rounds = [...new Set(results.map((r) => r.round))];
  for (const round of rounds) {
    for (const stream of [false, true]) {
      const of = (target: string) =>
        results.find((r) => r.round === round && r.stream === stream && r.target === target);
      const direct = of('direct');
      const gateway = of('gateway');
      const contained = of('contained');
      const portkey = of('portkey');
      if (!direct || !gateway) continue;
      const ratio = (a: number | undefined, b: number | undefined) =>
        a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`;
      const failed = (m: Measure) => (m.failed ? ` (${m.failed} failed)` : '');
      const others = [direct, gateway, contained, portkey]
        .map((m) => (m === undefined ? '–' : m.otherLoadPct))
        .join(' / ');
      lines.push(
        `| ${round} | ${stream ? 'streamed' : 'plain'} | ${direct.mock} | ${gateway.server} (+ ${gateway.nats})${failed(gateway)} | ${ratio(gateway.server, direct.mock)} | ${gateway.okRps} | ${contained ? `${contained.server}${failed(contained)}` : '–'} | ${ratio(contained?.server, direct.mock)} | ${portkey ? `${portkey.server}${failed(portkey)}` : '–'} | ${ratio(portkey?.server, direct.mock)} | ${ratio(gateway.server, portkey?.server)} | ${others} |`,
      );
    }
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
