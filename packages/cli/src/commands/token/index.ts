import { parseArgs } from 'node:util';
import {
  hashOperatorToken,
  isOperatorName,
  mintOperatorToken,
  OPERATOR_ROLES,
  type OperatorRole,
  operatorTokenLine,
} from '@immune/runtime/auth';
import { EXIT_OK, UsageError } from '../../errors.js';
import type { Command } from '../command.js';

const HELP = `Usage: immune token create --name NAME --role <${OPERATOR_ROLES.join('|')}> [--json]

Mints an operator token: the token goes to stdout once (it is stored nowhere), and the line to configure,
name:role:sha256, goes to stderr. Give every service that checks operators (healer, sentinel, gateway,
dashboard) the same lines, in IMMUNE_OPERATOR_TOKENS (comma-separated) or IMMUNE_OPERATOR_TOKENS_FILE (one a
line). The holder sends the token as IMMUNE_OPERATOR_TOKEN (CLI) or logs in to the dashboard with it; every
decision they make is recorded under NAME. A viewer may look, an operator may also decide.

Options:
  --name NAME      who holds it: letters, digits and . _ @ - (recorded as the operator)
  --role ROLE      viewer or operator
  --json           {"name","role","token","line"} on stdout instead
  -h, --help       this help

Examples:
  immune token create --name alice --role operator > alice.token
  immune token create --name ops-tv --role viewer --json

Needs no connection: nothing is written anywhere but stdout and stderr.`;

/** `immune token create`: a new operator token and its configuration line (hash only). */
export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint an operator token (viewer or operator) and print the line to configure',
  help: HELP,
  async run(args, io) {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return EXIT_OK;
    }
    if (positionals[0] !== 'create' || positionals.length !== 1)
      throw new UsageError('the action is create: immune token create --name NAME --role ROLE');
    const name = values.name;
    if (name === undefined || !isOperatorName(name))
      throw new UsageError('--name must be 1-128 letters, digits or . _ @ - (starting alphanumeric)');
    const role = values.role;
    if (role === undefined || !(OPERATOR_ROLES as readonly string[]).includes(role))
      throw new UsageError(`--role must be one of ${OPERATOR_ROLES.join(', ')}`);
    const token = mintOperatorToken();
    const line = operatorTokenLine({ name, role: role as OperatorRole, hash: hashOperatorToken(token) });
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ name, role, token, line }, null, 2)}\n`);
    } else {
      io.stdout.write(`${token}\n`);
      io.stderr.write(
        `operator token for ${name} (${role}) on stdout, shown only now. Configure this line on the healer, sentinel, gateway and dashboard\n` +
          `(IMMUNE_OPERATOR_TOKENS, comma-separated, or a line of IMMUNE_OPERATOR_TOKENS_FILE):\n${line}\n`,
      );
    }
    return EXIT_OK;
  },
};

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}
