import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

/** One problem found in a value, with a JSON pointer to the field that has it. */
export interface SchemaIssue {
  path: string;
  message: string;
}

export interface Checker<T extends TSchema> {
  readonly schema: T;
  check(value: unknown): value is Static<T>;
  /** Every problem in `value`, one per field; empty when the value is valid. */
  issues(value: unknown): SchemaIssue[];
}

/**
 * Compiles a schema once into a fast checker. Services validate every message at the edge where it enters,
 * so the compiled form matters on hot paths (gateway vitals, bus consumers).
 */
export function compileChecker<T extends TSchema>(schema: T): Checker<T> {
  const validator = Compile(schema);
  return {
    schema,
    check: (value: unknown): value is Static<T> => validator.Check(value),
    issues(value: unknown): SchemaIssue[] {
      const seen = new Map<string, string>();
      const note = (path: string, message: string) => {
        // The first message per field is the most specific one (anyOf branches come before their summary).
        if (!seen.has(path)) seen.set(path, message);
      };
      for (const error of validator.Errors(value)) {
        const params = error.params as Record<string, unknown>;
        if (error.keyword === 'boolean') continue;
        if (error.keyword === 'required' && Array.isArray(params.requiredProperties)) {
          for (const name of params.requiredProperties) note(`${error.instancePath}/${name}`, 'is required');
        } else if (error.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
          for (const name of params.additionalProperties)
            note(`${error.instancePath}/${name}`, 'is not a known field');
        } else {
          note(error.instancePath === '' ? '/' : error.instancePath, error.message);
        }
      }
      return [...seen].map(([path, message]) => ({ path, message }));
    },
  };
}
