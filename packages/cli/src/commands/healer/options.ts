import { UsageError } from '../../errors.js';
import type { CliIO } from '../../io.js';

/** Options every operator command takes: where the healer is, and who acts. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  nats: { type: 'string' },
  prefix: { type: 'string' },
  timeout: { type: 'string' },
  operator: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CONNECTION_HELP = `Connection (the dashboard's HTTP API unless NATS is asked for):
  --url URL          the dashboard (default $IMMUNE_URL, else http://localhost:8090); used when no NATS is given
  --token T          your operator token (default $IMMUNE_OPERATOR_TOKEN); who acts is recorded as its name
  --nats URL         talk to the healer over NATS instead (default $NATS_URL when set)
  --prefix P         deployment subject prefix, with NATS (default $IMMUNE_SUBJECT_PREFIX, else immune)
  --timeout ms       how long the healer has to answer (default 5000)
  --json             machine-readable output: the reply as one JSON document
  -h, --help         this help

Exit codes: 0 done, 1 the healer refused or could not be reached, 2 usage error.`;

/** `--operator` is refused by name: the operator is the token's holder, never a name given on the command line. */
export function refuseOperatorName(values: { operator?: string | undefined }): void {
  if (values.operator !== undefined)
    throw new UsageError(
      "--operator is no longer taken: decisions are recorded under your operator token's name (--token / $IMMUNE_OPERATOR_TOKEN)",
    );
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
