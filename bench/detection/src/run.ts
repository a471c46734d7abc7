/**
 * Detection-quality benchmark: simulates seeded fleets through the sentinel's decision path and writes the
 * report to stdout and to docs/detection-benchmark.md.
 *
 * Run: pnpm --filter @immune/bench-detection bench      (BENCH_QUICK=1 for a smoke run of a few seconds;
 * BENCH_JUDGE='{"threshold":4,"severeSigma":10}' to try other settings; BENCH_WORKERS=n threads, default 2)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { benchPlan, type Mode } from './config.js';
import { docSection, OWNED_SECTIONS } from './doc-section.js';
import { type BenchRun, renderReport } from './report.js';
import type { SimulationOptions, SimulationResult } from './simulation.js';

const mode: Mode = process.env.BENCH_QUICK === '1' ? 'quick' : 'full';
const { options, seeds } = benchPlan(mode);
const workers = Math.max(
  1,
  Math.min(availableParallelism(), seeds.length, Number(process.env.BENCH_WORKERS ?? 2)),
);
const started = performance.now();

const shares: SimulationOptions[][] = Array.from({ length: workers }, () => []);
for (const [i, seed] of seeds.entries()) shares[i % workers]!.push({ ...options, seed });
const results = (
  await Promise.all(
    shares.map(
      (jobs) =>
        new Promise<SimulationResult[]>((resolve, reject) => {
          const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: jobs });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  )
)
  .flat()
  .sort((a, b) => a.seed - b.seed);

const run: BenchRun = { mode, options, seeds, workers, wallMs: performance.now() - started, results };
const report = renderReport(run);
process.stdout.write(`${report}\n`);
const target = new URL('../../../docs/detection-benchmark.md', import.meta.url);
// The sections other scripts write (series suite, per-sample cost, real-stack containment): carried over.
const previous = existsSync(target) ? readFileSync(target, 'utf8') : '';
const kept = OWNED_SECTIONS.map((name) => docSection(previous, name))
  .filter((s) => s !== '')
  .join('\n\n');
writeFileSync(target, kept === '' ? `${report}\n` : `${report}\n\n${kept}\n`);
process.stderr.write(`\nwritten to docs/detection-benchmark.md\n`);
