import type { DestinationStream } from 'pino';
import { createLogger, type Logger, type LogLevel } from '../logging/create-logger.js';

export interface CapturedLogs {
  logger: Logger;
  /** Raw lines as written. */
  lines(): string[];
  /** Lines parsed as JSON. */
  entries(): Record<string, unknown>[];
  /** The first entry whose `msg` or `event` equals `text`. */
  find(text: string): Record<string, unknown> | undefined;
}

/** A JSON logger configured like production whose output is kept in memory. */
export function captureLogs(options: { service?: string; level?: LogLevel } = {}): CapturedLogs {
  const lines: string[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) };
  const logger = createLogger({
    service: options.service ?? 'test',
    level: options.level ?? 'debug',
    format: 'json',
    destination,
  });
  const entries = () =>
    lines
      .flatMap((chunk) => chunk.split('\n').filter((line) => line.trim() !== ''))
      .map((line) => JSON.parse(line));
  return {
    logger,
    lines: () => [...lines],
    entries,
    find: (text) => entries().find((entry) => entry.msg === text || entry.event === text),
  };
}
