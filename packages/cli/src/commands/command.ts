import type { CliIO } from '../io.js';

/**
 * One `immune <name>` subcommand. Commands parse their own arguments (so each can have its own options) and
 * return the exit code; they throw UsageError or CliFailure and `run` turns those into messages.
 */
export interface Command {
  name: string;
  /** One line for `immune --help`. */
  summary: string;
  /** The full text of `immune <name> --help`. */
  help: string;
  run(args: string[], io: CliIO): Promise<number>;
}
