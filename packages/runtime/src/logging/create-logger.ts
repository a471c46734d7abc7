import { hostname } from 'node:os';
import { type DestinationStream, type Logger, type LoggerOptions as PinoOptions, pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { redactSensitive, SERIALIZED_REDACT_PATHS } from './redact-paths.js';
import { traceMixin } from './trace-mixin.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'json' | 'pretty' | 'auto';
export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** Written as `service` on every line. */
  service: string;
  level?: LogLevel;
  /** `auto` (default): pretty only when stdout is a terminal. */
  format?: LogFormat;
  /** Where lines go; stdout when omitted. Tests pass a stream that collects lines. */
  destination?: DestinationStream;
  /** Extra pino redact paths for shapes the key-based redaction cannot see. */
  redactPaths?: readonly string[];
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
  /** Overrides terminal detection for `auto` (tests). */
  isTty?: boolean;
}

export const REDACTION_CENSOR = '[redacted]';

/**
 * The one pino configuration every service logs with: JSON lines with an ISO time and a string level, the
 * active span's `trace_id`/`span_id`, and credentials redacted by key name at any depth.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pretty = usePretty(options.format ?? 'auto', options.isTty ?? process.stdout.isTTY === true);
  const pinoOptions: PinoOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid, hostname: hostname(), ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceMixin,
    redact: { paths: [...SERIALIZED_REDACT_PATHS, ...(options.redactPaths ?? [])], censor: REDACTION_CENSOR },
    formatters: {
      // String levels read better in log stores than pino's numbers and survive a change of logging library.
      level: (label) => ({ level: label }),
      bindings: (bindings) => redactSensitive(bindings, REDACTION_CENSOR) as Record<string, unknown>,
      log: (object) => redactSensitive(object, REDACTION_CENSOR) as Record<string, unknown>,
    },
  };
  return pino(pinoOptions, pretty ? prettyStream(options.destination) : (options.destination ?? stdout()));
}

function usePretty(format: LogFormat, isTty: boolean): boolean {
  if (format === 'auto') return isTty;
  return format === 'pretty';
}

/**
 * Synchronous writes, so the last lines before `process.exit` (shutdown phases, fatal errors) are never lost;
 * services log per request, not per token, so the cost is small.
 */
function stdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}

function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  // In-process rather than a worker transport: pretty output is for people at a terminal, where simplicity and
  // synchronous output on exit matter more than throughput.
  return pinoPretty({
    destination: destination ?? 1,
    sync: true,
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}
