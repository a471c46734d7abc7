import {
  type Bus,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  connectNatsBus,
} from '@immune/bus';
import { CliFailure, UsageError } from '../../errors.js';
import type { CliIO } from '../../io.js';

/** Options every bus-backed command takes. */
export const BUS_OPTIONS = {
  nats: { type: 'string' },
  prefix: { type: 'string' },
  timeout: { type: 'string' },
  operator: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const BUS_HELP = `Connection:
  --nats URL         NATS server (default $NATS_URL, else nats://127.0.0.1:4222)
  --prefix P         deployment subject prefix (default $IMMUNE_SUBJECT_PREFIX, else immune)
  --timeout ms       how long the healer has to answer (default 5000)
  --operator NAME    who acts, shown in events (default $IMMUNE_OPERATOR, else $USER)
  --json             machine-readable output: the healer's reply as one JSON document
  -h, --help         this help

Exit codes: 0 done, 1 the healer refused or could not be reached, 2 usage error.`;

export interface BusValues {
  nats?: string | undefined;
  prefix?: string | undefined;
  timeout?: string | undefined;
  operator?: string | undefined;
}

export function operatorOf(values: BusValues): string {
  const name = values.operator ?? process.env.IMMUNE_OPERATOR ?? process.env.USER ?? 'operator';
  if (name.trim() === '') throw new UsageError('--operator must not be empty');
  return name;
}

export function timeoutOf(values: BusValues): number {
  if (values.timeout === undefined) return 5_000;
  const ms = Number(values.timeout);
  if (!Number.isInteger(ms) || ms <= 0)
    throw new UsageError(`--timeout must be a positive integer, got "${values.timeout}"`);
  return ms;
}

/**
 * Connects, runs the requests, disconnects. Bus errors become messages an operator can act on: nobody serving
 * the command means the healer is not running under this prefix.
 */
export async function withBus<T>(values: BusValues, fn: (bus: Bus) => Promise<T>): Promise<T> {
  const url = values.nats ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const prefix = values.prefix ?? process.env.IMMUNE_SUBJECT_PREFIX ?? 'immune';
  let bus: Bus;
  try {
    bus = await connectNatsBus({ url, prefix, name: 'immune-cli' });
  } catch (error) {
    throw new CliFailure(`cannot connect to NATS at ${url}: ${(error as Error).message}`);
  }
  try {
    return await fn(bus);
  } catch (error) {
    if (error instanceof BusNoRespondersError)
      throw new CliFailure(`no healer answers on prefix "${prefix}" (is it running?)`);
    if (error instanceof BusTimeoutError) throw new CliFailure('the healer did not answer in time');
    if (error instanceof BusCommandError) throw new CliFailure(`${error.code}: ${error.message}`);
    throw error;
  } finally {
    await bus.drain().catch(() => undefined);
  }
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for a terminal. */
export function table(rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}
