import { createRequire } from 'node:module';
import { COMMANDS } from './commands/index.js';
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import type { CliIO } from './io.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: immune <command> [options]',
    '',
    'The operator CLI of Immune, the control plane for fleets of AI agents.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "immune <command> --help" for a command\'s options.',
    '',
    'Options:',
    '  -h, --help     this help',
    '  -v, --version  the version',
    '',
    'Exit codes: 0 done, 1 failure, 2 usage error.',
  ].join('\n');
}

/** Runs one command line and returns the exit code; never throws, never calls process.exit. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr.write(`${topHelp()}\n`);
    return EXIT_USAGE;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const command = args[0] === undefined ? undefined : COMMANDS.find((c) => c.name === args[0]);
    io.stdout.write(`${command ? command.help : topHelp()}\n`);
    return EXIT_OK;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`${version}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`immune: unknown command "${name}". Run "immune --help" for the list.\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`immune ${name}: ${error.message}\nRun "immune ${name} --help" for usage.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CliFailure) {
      io.stderr.write(`immune ${name}: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    const detail = process.env.IMMUNE_DEBUG ? (error as Error).stack : (error as Error).message;
    io.stderr.write(`immune ${name}: unexpected error: ${detail}\n`);
    return EXIT_FAILURE;
  }
}
