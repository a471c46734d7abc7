import { inspect } from 'node:util';
import type { Static, TObject, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { coerceEnvValue } from './coerce-env.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { describeExpectation } from './describe-expectation.js';
import { isSecret, maskUrlCredentials, REDACTED_VALUE } from './secret.js';

/** Where variables come from; `process.env` in services, a literal object in tests. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** The validated configuration a schema describes. */
export type Config<T extends TObject> = Readonly<Static<T>>;

const MAX_SHOWN_LENGTH = 80;

/**
 * Reads every variable the schema lists from `env`, coerces strings to the schema's types (numbers, booleans,
 * comma lists, JSON objects), applies defaults and validates. Empty strings count as unset, because
 * orchestrators often render `FOO=` for an absent value.
 *
 * Throws one `ConfigError` that names every bad or missing variable; secret values are never quoted.
 * The returned object is frozen, and serialising it (`JSON.stringify`, pino, `util.inspect`) yields the
 * redacted view of `describeConfig`, so logging the whole config cannot leak a secret.
 */
export function loadConfig<T extends TObject>(schema: T, env: EnvSource = process.env): Config<T> {
  const values: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  const required = new Set(schema.required ?? []);

  for (const [name, property] of Object.entries(schema.properties) as [string, TSchema][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      if ('default' in property) values[name] = structuredClone((property as { default: unknown }).default);
      else if (required.has(name)) issues.push({ variable: name, problem: 'is required' });
      continue;
    }
    const value = coerceEnvValue(property, raw);
    const checker = compiled(property);
    if (checker.Check(value)) {
      values[name] = value;
      continue;
    }
    const expectation = describeExpectation(property) ?? firstError(checker, value);
    const shown = isSecret(property) ? '' : ` (got '${showRaw(raw)}')`;
    issues.push({ variable: name, problem: `${expectation}${shown}` });
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return withRedactedSerialisation(schema, values) as Config<T>;
}

/**
 * The configuration as it is safe to log at startup: secrets replaced by `[redacted]`, credentials inside any
 * other URL masked, unset optional variables left out.
 */
export function describeConfig<T extends TObject>(schema: T, config: Config<T>): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  const values = config as Record<string, unknown>;
  for (const [name, property] of Object.entries(schema.properties) as [string, TSchema][]) {
    const value = values[name];
    if (value === undefined) continue;
    view[name] = isSecret(property) ? REDACTED_VALUE : maskValue(value);
  }
  return view;
}

function maskValue(value: unknown): unknown {
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (Array.isArray(value)) return value.map(maskValue);
  return value;
}

function withRedactedSerialisation<T extends TObject>(schema: T, values: Record<string, unknown>): object {
  const view = () => describeConfig(schema, values as Config<T>);
  Object.defineProperty(values, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(values, inspect.custom, {
    value: (_depth: number, options: object) => inspect(view(), options),
    enumerable: false,
  });
  return Object.freeze(values);
}

type Checker = ReturnType<typeof Compile<TSchema>>;
const checkers = new WeakMap<TSchema, Checker>();

function compiled(schema: TSchema): Checker {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = Compile(schema);
    checkers.set(schema, checker);
  }
  return checker;
}

function firstError(checker: Checker, value: unknown): string {
  for (const error of checker.Errors(value)) return error.message;
  return 'is invalid';
}

function showRaw(raw: string): string {
  const masked = maskUrlCredentials(raw);
  return masked.length > MAX_SHOWN_LENGTH ? `${masked.slice(0, MAX_SHOWN_LENGTH)}...` : masked;
}
