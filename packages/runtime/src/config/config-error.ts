/** One env variable that is missing or does not satisfy its schema. */
export interface ConfigIssue {
  readonly variable: string;
  /** Human description of the problem. Never contains the value of a secret variable. */
  readonly problem: string;
}

/** Thrown once by `loadConfig` with every problem found, so an operator fixes the environment in one go. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration: ${issues.map((issue) => `${issue.variable}: ${issue.problem}`).join('; ')}`,
    );
    this.issues = issues;
  }
}
