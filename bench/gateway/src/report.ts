import type { RateMode } from './load.js';
import { round3, signed } from './stats.js';
import type { BenchResult, StepRecord, TargetRecord } from './types.js';

type Pct = 'p50' | 'p99';

const fmt = (value: number | undefined, digits = 3) =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
const int = (value: number | undefined) =>
  value === undefined || Number.isNaN(value) ? '–' : Math.round(value).toLocaleString('en-US');

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: string[], rows: string[]): string {
  return [row(header), row(header.map(() => '---')), ...rows].join('\n');
}

function stepOf(target: TargetRecord | undefined, rate: number, mode: RateMode): StepRecord | undefined {
  return target?.steps.find((s) => s.rate === rate && s.mode === mode);
}

/** The direct baseline of one rate: the mean of the two direct passes, and their spread. */
export function baseline(result: BenchResult, rate: number, mode: RateMode, pct: Pct) {
  const a = stepOf(
    result.targets.find((t) => t.name === 'direct-a'),
    rate,
    mode,
  )?.load.latency[pct];
  const b = stepOf(
    result.targets.find((t) => t.name === 'direct-b'),
    rate,
    mode,
  )?.load.latency[pct];
  const values = [a, b].filter((v): v is number => v !== undefined);
  if (values.length === 0) return undefined;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return { mean: round3(mean), spread: values.length === 2 ? round3(Math.abs(a! - b!)) : Number.NaN };
}

export function added(result: BenchResult, name: string, rate: number, mode: RateMode, pct: Pct) {
  const step = stepOf(
    result.targets.find((t) => t.name === name),
    rate,
    mode,
  );
  const base = baseline(result, rate, mode, pct);
  if (!step || !base || step.load.ok === 0) return undefined;
  return round3(step.load.latency[pct] - base.mean);
}

const TARGET_ORDER = ['gateway', 'portkey', 'gateway-info'];

function latencySection(result: BenchResult, mode: RateMode): string {
  const rows: string[] = [];
  for (const rate of result.config.rates) {
    const p50 = baseline(result, rate, mode, 'p50');
    const p99 = baseline(result, rate, mode, 'p99');
    const a = stepOf(
      result.targets.find((t) => t.name === 'direct-a'),
      rate,
      mode,
    );
    const b = stepOf(
      result.targets.find((t) => t.name === 'direct-b'),
      rate,
      mode,
    );
    if (a || b) {
      rows.push(
        row([
          'direct (mean of 2 passes)',
          int(rate),
          `${int(a?.load.okRps)} / ${int(b?.load.okRps)}`,
          a?.sustained && b?.sustained ? 'yes' : 'no',
          fmt(p50?.mean),
          fmt(p99?.mean),
          `±${fmt(p50 ? p50.spread / 2 : undefined)}`,
          `±${fmt(p99 ? p99.spread / 2 : undefined)}`,
          `${(a?.load.non2xx ?? 0) + (b?.load.non2xx ?? 0)} / ${(a?.load.errors ?? 0) + (b?.load.errors ?? 0)}`,
          `mock ${fmt(a?.cpu.mock, 0)}`,
          `${fmt(a?.cpu.otherLoadPct, 0)} / ${fmt(b?.cpu.otherLoadPct, 0)}`,
        ]),
      );
    }
    for (const name of TARGET_ORDER) {
      const target = result.targets.find((t) => t.name === name);
      const step = stepOf(target, rate, mode);
      if (!target || !step) continue;
      const a50 = added(result, name, rate, mode, 'p50');
      const a99 = added(result, name, rate, mode, 'p99');
      rows.push(
        row([
          target.label,
          int(rate),
          int(step.load.okRps),
          step.sustained ? 'yes' : '**no**',
          fmt(step.load.latency.p50),
          fmt(step.load.latency.p99),
          a50 === undefined ? '–' : signed(a50),
          a99 === undefined ? '–' : signed(a99),
          `${step.load.non2xx} / ${step.load.errors}`,
          `${fmt(step.cpu.server, 0)} (mock ${fmt(step.cpu.mock, 0)}, nats ${fmt(step.cpu.nats, 0)})`,
          fmt(step.cpu.otherLoadPct, 0),
        ]),
      );
    }
  }
  return table(
    [
      'target',
      'rate req/s',
      'ok req/s',
      'sustained',
      'p50 ms',
      'p99 ms',
      'added p50 ms',
      'added p99 ms',
      'non-2xx / errors',
      'server CPU µs/req',
      'other load %',
    ],
    rows,
  );
}

function maxSection(result: BenchResult): string {
  const portkey = result.targets.find((t) => t.name === 'portkey')?.max?.load.okRps;
  const rows = result.targets
    .filter((t) => t.max)
    .map((t) => {
      const m = t.max!;
      return row([
        t.label,
        int(m.load.okRps),
        portkey ? `${(m.load.okRps / portkey).toFixed(2)}×` : '–',
        fmt(m.load.latency.p50, 2),
        fmt(m.load.latency.p99, 2),
        `${m.load.non2xx} / ${m.load.errors}`,
        fmt(m.cpu.server, 0),
        fmt(m.cpu.mock, 0),
        fmt(m.cpu.nats, 0),
        fmt(m.cpu.loadgen, 0),
        fmt(m.cpu.otherLoadPct, 0),
      ]);
    });
  return table(
    [
      'target',
      'max ok req/s',
      'vs Portkey',
      'p50 ms',
      'p99 ms',
      'non-2xx / errors',
      'server CPU µs/req',
      'mock µs/req',
      'nats µs/req',
      'load gen µs/req',
      'other load %',
    ],
    rows,
  );
}

function ttfbSection(result: BenchResult): string {
  const directs = ['direct-a', 'direct-b']
    .map((n) => result.targets.find((t) => t.name === n)?.ttfb)
    .filter((t) => t !== undefined && t.firstByte.count > 0);
  const base = (pct: Pct) =>
    directs.length === 0 ? Number.NaN : directs.reduce((s, t) => s + t!.firstByte[pct], 0) / directs.length;
  const rows = result.targets
    .filter((t) => t.ttfb)
    .map((t) => {
      const r = t.ttfb!;
      const direct = t.name.startsWith('direct');
      const ok = r.firstByte.count > 0;
      return row([
        t.label,
        ok ? fmt(r.headers.p50) : '–',
        ok ? fmt(r.firstByte.p50) : '–',
        ok ? fmt(r.firstByte.p99) : '–',
        direct || !ok ? '–' : signed(r.firstByte.p50 - base('p50')),
        direct || !ok ? '–' : signed(r.firstByte.p99 - base('p99')),
        ok ? fmt(r.total.p50) : '–',
        `${r.failed} / ${r.requests}${r.failed > 0 ? ` (${Object.entries(r.failures).map(([s, n]) => `${n}× ${s}`)})` : ''}`,
      ]);
    });
  return table(
    [
      'target',
      'headers p50 ms',
      'first byte p50 ms',
      'first byte p99 ms',
      'added p50 ms',
      'added p99 ms',
      'whole stream p50 ms',
      'failed',
    ],
    rows,
  );
}

function memorySection(result: BenchResult): string {
  const rows = Object.entries(result.soak).map(([name, s]) =>
    row([
      name,
      fmt(s.rssIdleMiB, 1),
      fmt(s.rssEndMiB, 1),
      fmt(s.rssPeakMiB, 1),
      fmt(s.rssAfterIdleMiB, 1),
      `${int(s.load.okRps)} ok/s, ${s.load.non2xx} non-2xx, ${s.load.errors} errors, p99 ${fmt(s.load.latency.p99, 2)} ms, other load ${fmt(s.cpu.otherLoadPct, 0)} %`,
      s.samples.map((x) => Math.round(x.rssMiB)).join(' → '),
    ]),
  );
  const soak = Object.values(result.soak)[0];
  return table(
    [
      'process',
      'idle RSS MiB',
      `RSS after ${soak?.seconds ?? '?'} s at ${int(soak?.rate)} req/s`,
      'peak MiB',
      '10 s after the load',
      'load',
      'RSS samples MiB',
    ],
    rows,
  );
}

function logLevelSection(result: BenchResult): string {
  const warn = result.targets.find((t) => t.name === 'gateway');
  const info = result.targets.find((t) => t.name === 'gateway-info');
  if (!warn || !info) return '(not measured)';
  const rows = result.config.rates.map((rate) => {
    const w = stepOf(warn, rate, 'paced');
    const i = stepOf(info, rate, 'paced');
    const pair = (n: string, pct: Pct) => {
      const v = added(result, n, rate, 'paced', pct);
      return v === undefined ? '–' : signed(v);
    };
    return row([
      int(rate),
      `${pair('gateway', 'p50')} / ${pair('gateway-info', 'p50')}`,
      `${pair('gateway', 'p99')} / ${pair('gateway-info', 'p99')}`,
      `${fmt(w?.cpu.server, 0)} / ${fmt(i?.cpu.server, 0)}`,
      `${fmt(w?.logBytesPerRequest, 0)} / ${fmt(i?.logBytesPerRequest, 0)}`,
    ]);
  });
  rows.push(
    row([
      'max',
      `${int(warn.max?.load.okRps)} / ${int(info.max?.load.okRps)} req/s`,
      `p99 ${fmt(warn.max?.load.latency.p99, 2)} / ${fmt(info.max?.load.latency.p99, 2)} ms`,
      `${fmt(warn.max?.cpu.server, 0)} / ${fmt(info.max?.cpu.server, 0)}`,
      '',
    ]),
  );
  return table(
    ['rate req/s', 'added p50 ms warn / info', 'added p99 ms warn / info', 'CPU µs/req', 'log bytes/req'],
    rows,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function variantsSection(result: BenchResult): string {
  const names = [...new Set(result.variants.map((v) => v.name))];
  if (names.length === 0) return '(not measured: BENCH_VARIANTS=0)';
  const both = (values: number[], digits: number) =>
    `${values.length > 1 ? `**${fmt(median(values), digits)}** (` : ''}${values.map((v) => fmt(v, digits)).join(', ')}${values.length > 1 ? ')' : ''}`;
  const base = result.variants.filter((v) => v.name === names[0]);
  const rows = names.map((name) => {
    const runs = result.variants.filter((v) => v.name === name).sort((a, b) => a.round - b.round);
    const saved = median(base.map((v) => v.cpu.server)) - median(runs.map((v) => v.cpu.server));
    return row([
      runs[0]!.label,
      both(
        runs.map((v) => v.maxRps),
        0,
      ),
      both(
        runs.map((v) => v.cpu.server),
        0,
      ),
      name === names[0] ? '–' : `${fmt(saved, 0)} µs`,
      both(
        runs.map((v) => v.cpu.nats),
        0,
      ),
      both(
        runs.map((v) => v.paced1000.p50),
        3,
      ),
      both(
        runs.map((v) => v.paced1000.p99),
        3,
      ),
      runs.map((v) => fmt(v.cpu.otherLoadPct, 0)).join(', '),
    ]);
  });
  return table(
    [
      'gateway started',
      'max ok req/s',
      'gateway CPU µs/req at max',
      'CPU saved per request',
      'nats-server µs/req at max',
      'p50 ms at 1,000 req/s',
      'p99 ms at 1,000 req/s',
      'other load % at max',
    ],
    rows,
  );
}

function noiseSection(result: BenchResult): string {
  const a = result.targets.find((t) => t.name === 'direct-a');
  const b = result.targets.find((t) => t.name === 'direct-b');
  if (!a || !b) return '(one direct pass only)';
  const rows: string[] = [];
  for (const mode of ['paced', 'stock'] as const) {
    for (const rate of result.config.rates) {
      const x = stepOf(a, rate, mode);
      const y = stepOf(b, rate, mode);
      if (!x || !y) continue;
      rows.push(
        row([
          `${mode} ${int(rate)}/s`,
          `${fmt(x.load.latency.p50)} / ${fmt(y.load.latency.p50)}`,
          `${fmt(x.load.latency.p99)} / ${fmt(y.load.latency.p99)}`,
        ]),
      );
    }
  }
  rows.push(
    row([
      'max req/s',
      `${int(a.max?.load.okRps)} / ${int(b.max?.load.okRps)}`,
      `p99 ${fmt(a.max?.load.latency.p99, 2)} / ${fmt(b.max?.load.latency.p99, 2)} ms`,
    ]),
  );
  rows.push(
    row([
      'stream first byte',
      `${fmt(a.ttfb?.firstByte.p50)} / ${fmt(b.ttfb?.firstByte.p50)}`,
      `${fmt(a.ttfb?.firstByte.p99)} / ${fmt(b.ttfb?.firstByte.p99)}`,
    ]),
  );
  return table(['direct mock', 'p50 ms pass 1 / pass 2', 'p99 ms pass 1 / pass 2'], rows);
}

const MIB_TO_MB = 1.048576;

/** The mock's own CPU per request at `rate`, called directly: the mean of the two direct passes. */
function mockCpu(result: BenchResult, rate: number): number | undefined {
  const values = ['direct-a', 'direct-b']
    .map(
      (n) =>
        stepOf(
          result.targets.find((t) => t.name === n),
          rate,
          'paced',
        )?.cpu.mock,
    )
    .filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length === 0 ? undefined : values.reduce((s, v) => s + v, 0) / values.length;
}

function aims(result: BenchResult): string {
  const verdict = (ok: boolean | undefined) =>
    ok === undefined ? 'not measured' : ok ? 'met' : '**not met**';
  const step = (name: string, rate: number) =>
    stepOf(
      result.targets.find((t) => t.name === name),
      rate,
      'paced',
    );
  const addedCell = (name: string, pct: Pct) => {
    const v = added(result, name, 2000, 'paced', pct);
    return v === undefined ? '–' : `${signed(v)} ms`;
  };
  const a50 = added(result, 'gateway', 2000, 'paced', 'p50');
  const a99 = added(result, 'gateway', 2000, 'paced', 'p99');
  const spread50 = baseline(result, 2000, 'paced', 'p50')?.spread;
  const spread99 = baseline(result, 2000, 'paced', 'p99')?.spread;
  const sustained = step('gateway', 2000)?.sustained;
  const portkeySustained = step('portkey', 2000)?.sustained;
  const ours = result.targets.find((t) => t.name === 'gateway')?.max?.load.okRps;
  const theirs = result.targets.find((t) => t.name === 'portkey')?.max?.load.okRps;
  const ratio = ours && theirs ? ours / theirs : undefined;
  const mock = mockCpu(result, 1000);
  const cpuOf = (name: string) => step(name, 1000)?.cpu.server;
  const times = (v: number | undefined) =>
    v === undefined || mock === undefined ? '–' : `${(v / mock).toFixed(2)}×`;
  const cpuRatio =
    cpuOf('gateway') === undefined || mock === undefined ? undefined : cpuOf('gateway')! / mock;
  const soak = result.soak.gateway;
  const portkeySoak = result.soak.portkey;
  const mb = (mib: number | undefined) => (mib === undefined ? '–' : `${(mib * MIB_TO_MB).toFixed(0)} MB`);
  const shortSoak =
    soak && soak.seconds < 300 ? ` (soak ${soak.seconds} s, shorter than the aim's 300 s)` : '';
  return table(
    ['aim', 'Immune gateway', 'Portkey 1.15.2, same run', 'result'],
    [
      row([
        'added p50 ≤ 0.3 ms at 2,000 req/s',
        `${addedCell('gateway', 'p50')} (rate sustained: ${sustained ? 'yes' : 'no'}; direct passes differ by ${fmt(spread50)} ms)`,
        `${addedCell('portkey', 'p50')} (rate sustained: ${portkeySustained ? 'yes' : 'no'})`,
        verdict(a50 === undefined ? undefined : a50 <= 0.3 && sustained === true),
      ]),
      row([
        'added p99 ≤ 1 ms at 2,000 req/s',
        `${addedCell('gateway', 'p99')} (direct passes differ by ${fmt(spread99)} ms)`,
        addedCell('portkey', 'p99'),
        verdict(a99 === undefined ? undefined : a99 <= 1 && sustained === true),
      ]),
      row([
        "CPU per request ≤ 1.5× the mock's own, 1,000 req/s non-streamed",
        `${times(cpuOf('gateway'))} (${fmt(cpuOf('gateway'), 0)} vs ${fmt(mock, 0)} µs; from source, tsx)`,
        times(cpuOf('portkey')),
        verdict(cpuRatio === undefined ? undefined : cpuRatio <= 1.5),
      ]),
      row([
        `RSS ≤ 150 MB after ${int(soak?.seconds)} s at ${int(soak?.rate)} req/s`,
        `${mb(soak?.rssEndMiB)} (idle ${mb(soak?.rssIdleMiB)}, peak ${mb(soak?.rssPeakMiB)})${shortSoak}`,
        `${mb(portkeySoak?.rssEndMiB)} (idle ${mb(portkeySoak?.rssIdleMiB)})`,
        verdict(soak === undefined ? undefined : soak.rssEndMiB * MIB_TO_MB <= 150),
      ]),
      row([
        'max req/s ≥ 2× Portkey',
        `${int(ours)} req/s = ${ratio === undefined ? '–' : ratio.toFixed(2)}× Portkey`,
        `${int(theirs)} req/s`,
        verdict(ratio === undefined ? undefined : ratio >= 2),
      ]),
    ],
  );
}

const SECTION_START = '<!-- bench:start -->';
const SECTION_END = '<!-- bench:end -->';

/**
 * `doc` with the full benchmark's section replaced by `report` (appended when it has none): the dated bench:cpu
 * sections and the text around the report are written by hand and kept.
 */
export function withReportSection(doc: string, report: string): string {
  const section = `${SECTION_START}\n${report.trim()}\n${SECTION_END}`;
  const from = doc.indexOf(SECTION_START);
  const to = doc.indexOf(SECTION_END);
  if (from !== -1 && to > from) return doc.slice(0, from) + section + doc.slice(to + SECTION_END.length);
  return `${doc.trim() === '' ? '# Gateway benchmark' : doc.trimEnd()}\n\n${section}\n`;
}

export function renderMarkdown(result: BenchResult): string {
  const m = result.machine;
  const c = result.config;
  return `${result.quick ? '**Quick (smoke) run: steps are too short for the figures to mean much.**\n\n' : ''}Measured ${result.date.slice(0, 16).replace('T', ' ')} UTC with \`${result.command}\`.

Machine: ${m.cpu}, ${m.cores} cores${m.virtualised === 'yes' ? ' (virtual machine)' : ''}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}. Shared and noisy: load average ${result.loadavg.start.join(' / ')} at the start, ${result.loadavg.end.join(' / ')} at the end (1 / 5 / 15 min); other work used ${fmt(result.otherLoadAtStartPct, 0)} % of the cores in the 5 s before the start (the run waits up to ${c.waitQuietSeconds} s for less than 15 %). Everything ran on these two cores at once: the load generator (autocannon, in the benchmark's process), the mock upstream, the gateway under test, and for our gateway the local nats-server that receives its vitals${c.pin ? '. The load generator was pinned to CPU 0 and the processes the benchmark starts to CPU 1 (`taskset`)' : '; no CPU pinning (see the notes)'}.

Setup: \`@immune/mock-upstream\` in its own process (normal behaviour: 20 output tokens, no delay). Our gateway started as a user starts it (\`node --conditions=@immune/source --import tsx apps/gateway/src/main.ts\`, \`LOG_LEVEL=warn\`, vitals to the real local NATS under a throw-away subject prefix whose streams are deleted afterwards). Portkey \`@portkey-ai/gateway\` 1.15.2 started with \`node build/start-server.js --headless --port=N\`, headers \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` pointing at the same mock. Request: \`POST /v1/chat/completions\`, non-streamed, gpt-4o-mini, a system and a user message (~420 bytes, unique per request), \`authorization: Bearer sk-bench\`, \`x-immune-agent\` cycling over 50 agents. ${c.connections} connections; each fixed-rate step is ${c.stepSeconds} s after a ${c.warmupSeconds} s warm-up; max throughput is ${c.maxSeconds} s without a rate limit.

Latency is each 2xx response's own time (send to last byte, microsecond resolution), taken from autocannon's \`response\` event; autocannon's own histogram has 1 ms resolution and, when rate-limited, adds coordinated-omission samples at a 1 ms interval, which makes its percentiles unusable at this scale (they are kept in the JSON). "Added" is the target's percentile minus the direct mock's percentile at the same rate, the direct figure being the mean of two passes run before and after the gateways.

## Aims

${aims(result)}

## Added latency at fixed rates (paced)

autocannon's \`overallRate\` with each connection's one-second window phase-shifted by 1/${c.connections} s, so the rate is steady over the second (see "Bursty" below for autocannon as is). "Sustained": ≥ 98 % of the rate answered 2xx, no errors.

${latencySection(result, 'paced')}

${c.stock ? `## Bursty: autocannon \`overallRate\` as is\n\nautocannon opens every connection's one-second quota at the same instant: each second begins with ${c.connections} simultaneous requests, each connection then sends its quota back to back, and the rest of the second is idle. Latency here is queueing inside that burst, not latency at a rate.\n\n${latencySection(result, 'stock')}\n\n` : ''}## Max throughput

${maxSection(result)}

## Time to first byte of a stream

${c.ttfbRequests} sequential \`stream: true\` requests per target over one kept-alive connection (after ${c.ttfbWarmup} warm-up requests); first byte = first SSE event.

${ttfbSection(result)}

## Memory (RSS from /proc/<pid>/status)

A fresh process per target; idle = 3 s after start, before any request; then ${c.soakSeconds} s at ${int(c.soakRate)} req/s (paced).

${memorySection(result)}

## LOG_LEVEL=info versus warn (our gateway)

${logLevelSection(result)}

## Where our gateway's time goes (diagnostic variants)

The unmodified gateway started with a diagnostic preload (\`src/diagnostics/\`) that switches one thing off: OpenTelemetry's node:http instrumentation (one span per request), that and the async context manager the OpenTelemetry SDK installs, or the JetStream publish of the vital (\`publishVital\` made a no-op). Not how anyone should run it; only to measure what each costs. Each variant is a fresh process; the four alternate over ${c.variantRounds} round(s), shown as **median** (round 1, 2, …) (${Math.max(5, c.maxSeconds / 2)} s max-throughput run, then ${Math.max(5, c.maxSeconds / 2)} s at 1,000 req/s paced).

${variantsSection(result)}

## Noise

The direct mock, measured twice in the same run (before and after the gateways):

${noiseSection(result)}

## Notes on the method

- "Other load %" is the CPU the machine spent on anything but the processes measured (load generator, mock, gateway, nats-server), as a share of both cores: other tenants' work and kernel threads. A few percent is the floor; a step with much more was disturbed. The run waits up to \`BENCH_WAIT_QUIET_S\` (default 900 s) for other work to use less than 15 % of the cores over 5 s, then starts anyway.
- Two vCPUs shared with other tenants: the same measurement minutes apart differs by 20-50 % for throughput and by several ms for p99 under load; compare targets within one run, never across runs. CPU time per request (from /proc/<pid>/stat, 10 ms ticks) also depends on the rate: at low rates every request wakes idle processes, and the same code costs 2-3× more CPU per request at 500 req/s than at 2,000 req/s; compare it between targets at the same rate.
- No CPU pinning: pinning the load generator to one core and the servers to the other (\`BENCH_PIN=1\`) makes the gateway and the mock share one core; in trial runs it lowered the gateway's and Portkey's max throughput by 15-30 % and did not make the direct baseline steadier.
- The load generator shares the machine; its CPU per request is in the max-throughput table. The direct mock's max (~15-18k req/s) is bounded by the load generator, not the mock.
- autocannon stops each run by closing its connections with requests in flight; a gateway sees these as client aborts.
- Portkey's stream path fails as installed (500 on every \`stream: true\` request; see \`src/portkey-stream-fix.ts\` for the cause); its TTFB is measured on a second Portkey process with a one-line fetch preload that fixes it. Portkey also waits 25 ms before forwarding the first event of an OpenAI-style stream (a \`setTimeout(25)\` in its stream reader), which is most of its TTFB.
`;
}
