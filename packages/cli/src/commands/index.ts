import type { Command } from './command.js';
import { completionCommand } from './completion/index.js';
import { HEALER_COMMANDS } from './healer/index.js';
import { keysCommand } from './keys/index.js';
import { replayCommand } from './replay/index.js';
import { tokenCommand } from './token/index.js';

/** Every subcommand, in the order `immune --help` lists them. Bus-backed operator commands join here. */
export const COMMANDS: readonly Command[] = [
  ...HEALER_COMMANDS,
  keysCommand,
  replayCommand,
  tokenCommand,
  completionCommand(() => COMMANDS),
];
