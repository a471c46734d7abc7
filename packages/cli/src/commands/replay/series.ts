import { SeriesDetector, type SeriesDetectorConfig } from '@immune/core';
import { CliFailure } from '../../errors.js';
import type { LineWriter } from '../../io.js';
import { isSeriesHeader, type NumberedLine } from './input.js';

/**
 * Scores a `timestamp,value` series row by row with the production detector on one generic metric
 * (`SeriesDetector`): every input row gets exactly one output row, in order, with its score and whether it
 * is the onset of an anomalous episode (`alarm`, at most one per episode). The timestamp is passed through as
 * written (any format), an empty value is a gap that scores 0.
 */
export async function scoreSeries(
  lines: AsyncIterable<NumberedLine>,
  out: LineWriter,
  config: SeriesDetectorConfig,
): Promise<{ rows: number; anomalous: number }> {
  const detector = new SeriesDetector(config);
  let rows = 0;
  let anomalous = 0;
  let header = false;
  for await (const { number, text } of lines) {
    if (!header) {
      if (!isSeriesHeader(text)) {
        throw new CliFailure(
          `line ${number}: expected the CSV header "timestamp,value", got "${clip(text)}"`,
        );
      }
      header = true;
      if (out.line('timestamp,value,anomaly_score,alarm')) await out.flush();
      continue;
    }
    if (text.trim() === '') continue;
    const [timestamp, raw] = splitRow(text, number);
    const value = parseValue(raw, number);
    const verdict = value === undefined ? undefined : detector.observe(value);
    const alarm = verdict?.alarm === true;
    if (alarm) anomalous++;
    rows++;
    if (out.line(`${timestamp},${raw},${formatScore(verdict?.score ?? 0)},${alarm ? 1 : 0}`))
      await out.flush();
  }
  if (!header) throw new CliFailure('empty input: expected the CSV header "timestamp,value"');
  await out.flush();
  return { rows, anomalous };
}

function splitRow(text: string, line: number): [string, string] {
  const fields = text.split(',');
  if (fields.length !== 2) {
    throw new CliFailure(`line ${line}: expected 2 fields (timestamp,value), got ${fields.length}`);
  }
  return [fields[0]!.trim(), unquote(fields[1]!.trim())];
}

function unquote(field: string): string {
  return field.length >= 2 && field.startsWith('"') && field.endsWith('"')
    ? field.slice(1, -1).trim()
    : field;
}

function parseValue(raw: string, line: number): number | undefined {
  if (raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new CliFailure(`line ${line}: value "${clip(raw)}" is not a number`);
  return value;
}

function formatScore(score: number): string {
  return String(Math.round(score * 1e6) / 1e6);
}

export function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
