import { SeriesScorer, type SeriesScorerConfig } from '@immune/core';
import { CliFailure } from '../../errors.js';
import type { LineWriter } from '../../io.js';
import { isSeriesHeader, type NumberedLine } from './input.js';

/**
 * Scores a `timestamp,value` series row by row: every input row gets exactly one output row, in order. The
 * timestamp is passed through as written (any format), an empty value is a gap that scores 0.
 */
export async function scoreSeries(
  lines: AsyncIterable<NumberedLine>,
  out: LineWriter,
  config: SeriesScorerConfig,
): Promise<{ rows: number; anomalous: number }> {
  const scorer = new SeriesScorer(config);
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
      if (out.line('timestamp,value,anomaly_score')) await out.flush();
      continue;
    }
    if (text.trim() === '') continue;
    const [timestamp, raw] = splitRow(text, number);
    const value = parseValue(raw, number);
    const score = value === undefined ? 0 : scorer.score(value);
    if (score >= 0.5) anomalous++;
    rows++;
    if (out.line(`${timestamp},${raw},${formatScore(score)}`)) await out.flush();
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
