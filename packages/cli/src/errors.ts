/** A command line that cannot be understood: exit code 2, with a hint to the command's help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command was understood but could not be carried out (missing file, invalid input): exit code 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
