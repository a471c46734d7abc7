import { parseArgs } from 'node:util';
import { DEFAULT_SERIES_DETECTOR_CONFIG, seriesDetectorConfig } from '@immune/core';
import { EXIT_OK, UsageError } from '../../errors.js';
import { FleetJudge, judgeConfig } from '../../fleet-judge.js';
import { LineWriter } from '../../io.js';
import type { Command } from '../command.js';
import { jsonOutput, textOutput } from './formats.js';
import { isSeriesHeader, type NumberedLine, numberedLines, openInput } from './input.js';
import { scoreSeries } from './series.js';
import { replayVitals } from './vitals.js';

const HELP = `Usage:
  immune replay <vitals.jsonl | -> [--threshold σ] [--min-samples n] [--severe σ] [--json] [--all]
  immune replay --csv <series.csv | -> [--threshold σ] [--min-samples n]

Backtests detection settings before they change in production.

Vitals (JSONL, one vital per line, as exported from the vitals table or the bus) are replayed in order
through the sentinel's decision path: per-agent baselines, anomaly detection, loop detection, the
lifecycle (suspect window, severe anomalies straight to draining) and fleet correlation. Timers run on the
vitals' own timestamps. It prints one line per vital where something happened, then a summary per agent.
Every line is validated; the first invalid one stops the replay with its line number (exit 1).

A CSV whose header is "timestamp,value" (or any file with --csv) is a single metric, judged by the
sentinel's own detector (one generic, two-sided metric): it writes "timestamp,value,anomaly_score,alarm"
for every input row, in order. The score in [0,1] is σ²/(σ²+T²) of the calibrated deviation, so 0.5 is
the threshold T; alarm is 1 at the onset of an anomalous episode (one per episode, a level shift that
persists becomes the new normal). An empty value is a gap and scores 0.

Use "-" to read from stdin. Input is streamed, so files of any size work.

Options:
  --threshold σ      anomaly threshold, in σ (CSV default ${DEFAULT_SERIES_DETECTOR_CONFIG.threshold}; vitals default 3)
  --min-samples n    samples before a baseline judges anything (default ${DEFAULT_SERIES_DETECTOR_CONFIG.minSamples})
  --severe σ         σ at which one anomaly skips the suspect window (default 5; vitals only)
  --json             JSON lines: {"type":"decision"|"transition"|"summary", ...} (vitals only)
  --all              a line for every vital, also the normal ones (vitals only)
  --csv              read a timestamp,value series even without its header line check
  -h, --help         this help

Exit codes: 0 done, 1 unreadable or invalid input, 2 usage error.`;

const OPTIONS = {
  threshold: { type: 'string' },
  'min-samples': { type: 'string' },
  severe: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  csv: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const replayCommand: Command = {
  name: 'replay',
  summary: 'backtest detection: replay exported vitals (JSONL) or score a timestamp,value CSV',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parse(args);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return EXIT_OK;
    }
    if (positionals.length > 1) throw new UsageError(`expected one input file, got ${positionals.length}`);
    const path = positionals[0] ?? (io.stdinIsTTY ? undefined : '-');
    if (path === undefined) throw new UsageError('missing input: give a file, or "-" to read stdin');
    const threshold = positiveNumber('--threshold', values.threshold);
    const minSamples = positiveInteger('--min-samples', values['min-samples']);
    const severe = positiveNumber('--severe', values.severe);

    const lines = numberedLines(await openInput(path, io));
    const first = await lines.next();
    const rest = prepend(first.done ? undefined : first.value, lines);
    const out = new LineWriter(io.stdout);
    const csv = values.csv === true || (!first.done && isSeriesHeader(first.value.text));
    if (csv) {
      for (const [flag, given] of [
        ['--severe', severe !== undefined],
        ['--json', values.json],
        ['--all', values.all],
      ] as const) {
        if (given) throw new UsageError(`${flag} applies to vitals, not to a timestamp,value series`);
      }
      await scoreSeries(
        rest,
        out,
        seriesDetectorConfig({
          ...(threshold === undefined ? {} : { threshold }),
          ...(minSamples === undefined ? {} : { minSamples }),
        }),
      );
      return EXIT_OK;
    }
    const config = judgeConfig({
      ...(threshold === undefined ? {} : { threshold }),
      ...(minSamples === undefined ? {} : { minSamples }),
      ...(severe === undefined ? {} : { severeSigma: severe }),
    });
    const all = values.all === true;
    const format = values.json ? jsonOutput(config, all) : textOutput(config, all);
    await replayVitals(rest, new FleetJudge(config), out, format);
    return EXIT_OK;
  },
};

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function positiveNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0))
    throw new UsageError(`${flag} must be a positive number, got "${raw}"`);
  return value;
}

function positiveInteger(flag: string, raw: string | undefined): number | undefined {
  const value = positiveNumber(flag, raw);
  if (value !== undefined && !Number.isInteger(value)) {
    throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  }
  return value;
}

async function* prepend(
  first: NumberedLine | undefined,
  rest: AsyncIterator<NumberedLine>,
): AsyncGenerator<NumberedLine> {
  if (first !== undefined) yield first;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}
