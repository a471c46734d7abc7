import { EXIT_OK, UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { bashCompletion, type CompletionSpec, zshCompletion } from './scripts.js';

const HELP = `Usage: immune completion <bash|zsh>

Prints a shell completion script for the commands and their options.

Examples:
  source <(immune completion bash)                       # this shell; add it to ~/.bashrc to keep it
  immune completion zsh > "\${fpath[1]}/_immune"          # zsh, then restart the shell (or: compinit)

Options:
  -h, --help         this help

Exit codes: 0 done, 2 usage error (no or an unknown shell).`;

/** Every `--flag` a command's help names: the help text is the one place options are listed for people. */
export function flagsOf(help: string): string[] {
  return [...new Set(help.match(/--[a-z][a-z-]*/g) ?? [])].sort();
}

/** `immune completion`: takes the command list lazily, since it is itself one of the commands. */
export function completionCommand(commands: () => readonly Command[]): Command {
  return {
    name: 'completion',
    summary: 'shell completion: immune completion bash|zsh',
    help: HELP,
    async run(args, io) {
      if (args.includes('-h') || args.includes('--help')) {
        io.stdout.write(`${HELP}\n`);
        return EXIT_OK;
      }
      if (args.length !== 1) throw new UsageError('name one shell: bash or zsh');
      const specs: CompletionSpec[] = commands().map((command) => ({
        name: command.name,
        summary: command.summary,
        flags: [...new Set([...flagsOf(command.help), '--help'])].sort(),
      }));
      if (args[0] === 'bash') io.stdout.write(bashCompletion(specs));
      else if (args[0] === 'zsh') io.stdout.write(zshCompletion(specs));
      else throw new UsageError(`unknown shell "${args[0]}" (bash, zsh)`);
      return EXIT_OK;
    },
  };
}
