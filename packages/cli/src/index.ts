export { run } from './cli.js';
export type { Command } from './commands/command.js';
export { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
export {
  FleetJudge,
  type JudgeConfig,
  type JudgeOptions,
  judgeConfig,
  type VitalDecision,
} from './fleet-judge.js';
export type { CliIO } from './io.js';
