import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { withDocSection } from '../doc-section.js';
import { generateCorpus } from './corpus.js';
import {
  naiveEwma,
  nullDetector,
  ourDetector,
  runDetector,
  type SeriesAlarms,
  triagePath,
} from './detectors.js';
import { scoreAlarms } from './scoring.js';

/**
 * `pnpm --filter @immune/bench-detection bench:series`: the real-world-like series suite. Scores our
 * SeriesDetector, the null detector and a naive EWMA z-score on one seeded corpus, and the production decision
 * path (AgentTriage on latency_ms), and writes the tables into docs/detection-benchmark.md between markers.
 */
const SEED = Number(process.env.SERIES_SEED ?? 2026);
const COUNT = Number(process.env.SERIES_COUNT ?? 54);
const corpus = generateCorpus(SEED, COUNT);
const rows: string[] = [];
const scores = new Map<string, number>();
const row = (name: string, detector: SeriesAlarms) => {
  const s = scoreAlarms(corpus, runDetector(corpus, detector));
  scores.set(name, s.score);
  rows.push(`| ${name} | ${s.score.toFixed(1)} | ${s.hit}/${s.windows} | ${s.falseAlarms} |`);
};
row('null (flag nothing)', nullDetector);
for (const t of [3, 4, 5])
  row(`SeriesDetector, threshold ${t}${t === 4 ? ' (default)' : ''}`, ourDetector(t));
for (const t of [3, 4, 5, 6, 8]) row(`naive EWMA z-score (alpha 0.01), \\|z\\| ≥ ${t}`, naiveEwma(t));
const ours = scores.get('SeriesDetector, threshold 4 (default)')!;
const naive = [...scores].filter(([name]) => name.startsWith('naive'));
const bestNaive = naive.reduce((a, b) => (b[1] > a[1] ? b : a));
const triage = scoreAlarms(corpus, runDetector(corpus, triagePath));
const points = corpus.reduce((n, s) => n + s.values.length, 0);
const body = `## Real-world-like series (windowed scoring)

\`pnpm --filter @immune/bench-detection bench:series\` (seed ${SEED}, ${COUNT} series of 3,000 samples, ${points.toLocaleString('en')} points, ${corpus.reduce((n, s) => n + s.windows.length, 0)} labelled anomalies; load average ${loadavg()[0]!.toFixed(1)} at the run). Shapes of the public labelled corpora (NAB, Yahoo S5):
daily and weekly cycles, square waves (batch jobs), a noise-free constant, a near-constant with ±1 blips, mostly-zero counts,
random walks, trends, log-normal sizes; anomalies after a 600-sample warm-up: spikes, level shifts, changes of rhythm (the
period halves for 300 samples), variance changes (×4 noise for 200 samples), flat-lines (200 samples). Windowed scoring as
NAB's standard profile: 10 % of each series' length shared by its 3 windows (a quarter before the onset); the first alarm
in a window earns up to +1 (scaled sigmoid: earlier is better), a window without one costs −1, every alarm outside a
window −0.11. Normalised: 0 is the null detector, 100 every window at its start with no false alarm.

| detector | score | windows hit | false alarms |
| --- | --- | --- | --- |
${rows.join('\n')}

Production decision path (\`AgentTriage\`, default config, each series as one agent's \`latency_ms\` at 1 call/s; an alarm is a
HEALTHY → SUSPECTED move; values ≤ 0 are not on the log scale and are skipped; a quarantined agent, with no healer here,
raises nothing more): **${triage.hit}/${triage.windows} windows escalated, ${triage.falseAlarms} suspicions outside them** (score ${triage.score.toFixed(1)}).

Reading: our default scores ${ours.toFixed(1)}; the naive EWMA's best threshold on this corpus (${bestNaive[0].replace(/.*≥ /, '|z| ≥ ')}) scores ${bestNaive[1].toFixed(1)}, a
threshold nobody could pick in advance (at |z| ≥ 3 it scores ${scores.get(naive[0]![0])!.toFixed(1)}). The issue's aim, "beats the naive z-score by a wide
margin (≥ 10 points) at one configuration", is **${ours >= bestNaive[1] + 10 ? 'met' : 'not met'}** (${(ours - bestNaive[1]).toFixed(1)} points ahead of its best threshold). The seeded smoke test
(\`src/series/series.test.ts\`, 18 series of another seed) asserts the ranking: ours above null and at least 5 points above
the naive z-score at every threshold of the table.
`;
console.log(body);
if (process.env.SERIES_WRITE_DOC !== '0') {
  const path = new URL('../../../../docs/detection-benchmark.md', import.meta.url);
  writeFileSync(path, withDocSection(readFileSync(path, 'utf8'), 'series', body));
}
