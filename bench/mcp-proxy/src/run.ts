import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

/**
 * CPU per proxied tool call against the fixture MCP server's own, and the latency the proxy adds, in one run:
 * the same fixed-rate load of `tools/call` requests, first straight to the fixture, then through the proxy.
 * CPU comes from /proc/<pid>/stat (steadier than latency on a shared machine).
 * Knobs: BENCH_RATE (calls/s, default 500), BENCH_CALLS (per phase, default 10000), BENCH_CONCURRENCY (64).
 */
const rate = Number(process.env.BENCH_RATE ?? 500);
const calls = Number(process.env.BENCH_CALLS ?? 10_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const TICK_MS = 10;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function machineBusyMs(): { busy: number; total: number } {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

async function start(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (!match) return;
      // From here on the output is drained unread: parsing it would load this process, the load generator.
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      resolve({ child, line: match[1] ?? match[0] });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited ${code}: ${out}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became ready`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Sends `calls` tool calls at `rate` per second (at most `concurrency` in flight); returns latencies in ms. */
async function load(origin: string, path: string, label: string): Promise<number[]> {
  const pool = new Pool(origin, { connections: concurrency });
  const latencies: number[] = [];
  const started = performance.now();
  let inFlight = 0;
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const tick = () => {
      const due = Math.min(calls, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      while (sent < due && inFlight < concurrency) {
        const id = ++sent;
        inFlight++;
        const t0 = performance.now();
        pool
          .request({
            method: 'POST',
            path,
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'x-immune-agent': `bench-${id % 50}`,
            },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id,
              method: 'tools/call',
              params: { name: 'search', arguments: { q: `query ${id % 100}`, limit: 10 } },
            }),
          })
          .then(async (res) => {
            await res.body.text();
            if (res.statusCode !== 200) throw new Error(`${label}: HTTP ${res.statusCode}`);
            latencies.push(performance.now() - t0);
            inFlight--;
            if (latencies.length === calls) resolve();
          })
          .catch(reject);
      }
      if (sent < calls) setTimeout(tick, 1);
    };
    tick();
  });
  await pool.close();
  return latencies.sort((a, b) => a - b);
}

const fixture = await start(['--import', 'tsx', 'bench/mcp-proxy/src/fixture-server.ts'], {}, /^(\d+)$/m);
const fixturePort = fixture.line;
const proxyPort = await freePort();
const proxy = await start(
  ['--conditions=@immune/source', '--import', 'tsx', 'apps/mcp-proxy/src/main.ts'],
  {
    MCP_UPSTREAM_URL: `http://127.0.0.1:${fixturePort}`,
    MCP_UPSTREAM_NAME: 'bench',
    MCP_PROXY_PORT: String(proxyPort),
    HOST: '127.0.0.1',
    // As deployed: warnings only (the startup warning about the embedded bus doubles as the ready line).
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    ...(process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {}),
  },
  /NATS_URL is not set|"level":40/,
);
await waitHealthy(`http://127.0.0.1:${proxyPort}/readyz`);
const direct = `http://127.0.0.1:${fixturePort}`;
const proxied = `http://127.0.0.1:${proxyPort}`;
try {
  // Warm-up: JIT both processes on the path measured.
  await load(proxied, '/mcp', 'warm-up');
  const fixturePid = fixture.child.pid as number;
  const proxyPid = proxy.child.pid as number;

  let m0 = machineBusyMs();
  let f0 = cpuMs(fixturePid);
  const directLat = await load(direct, '/mcp', 'direct');
  const fixtureDirectUs = ((cpuMs(fixturePid) - f0) * 1000) / calls;
  let m1 = machineBusyMs();
  const machineDirect = (m1.busy - m0.busy) / (m1.total - m0.total);

  m0 = machineBusyMs();
  f0 = cpuMs(fixturePid);
  const p0 = cpuMs(proxyPid);
  const proxiedLat = await load(proxied, '/mcp', 'proxied');
  const fixtureProxiedUs = ((cpuMs(fixturePid) - f0) * 1000) / calls;
  const proxyUs = ((cpuMs(proxyPid) - p0) * 1000) / calls;
  m1 = machineBusyMs();
  const machineProxied = (m1.busy - m0.busy) / (m1.total - m0.total);

  const row = (name: string, l: number[]) =>
    `| ${name} | ${percentile(l, 50).toFixed(2)} | ${percentile(l, 90).toFixed(2)} | ${percentile(l, 99).toFixed(2)} |`;
  console.log(
    `\n## MCP proxy benchmark: ${calls} tools/call per phase at ${rate}/s, ${concurrency} in flight at most\n`,
  );
  console.log('| CPU per tool call | µs |\n|---|---|');
  console.log(`| fixture server, direct phase | ${fixtureDirectUs.toFixed(0)} |`);
  console.log(`| fixture server, proxied phase | ${fixtureProxiedUs.toFixed(0)} |`);
  console.log(
    `| MCP proxy (identity, policy, forwarding, parsing, vital, publish) | ${proxyUs.toFixed(0)} |`,
  );
  console.log(`| proxy / fixture | ${(proxyUs / fixtureProxiedUs).toFixed(2)}× |`);
  console.log('\n| latency (ms) | p50 | p90 | p99 |\n|---|---|---|---|');
  console.log(row('direct', directLat));
  console.log(row('through the proxy', proxiedLat));
  console.log(
    `| added | ${(percentile(proxiedLat, 50) - percentile(directLat, 50)).toFixed(2)} | ${(percentile(proxiedLat, 90) - percentile(directLat, 90)).toFixed(2)} | ${(percentile(proxiedLat, 99) - percentile(directLat, 99)).toFixed(2)} |`,
  );
  console.log(
    `\nMachine busy (all cores, everyone's processes): ${(machineDirect * 100).toFixed(0)} % during the direct phase, ${(machineProxied * 100).toFixed(0)} % during the proxied phase.`,
  );
} finally {
  proxy.child.kill('SIGTERM');
  fixture.child.kill('SIGTERM');
}
