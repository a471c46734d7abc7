import type { TSchema } from 'typebox';

/**
 * Marks an env variable as secret: its value never appears in configuration errors, in `describeConfig()`,
 * nor when the loaded config object is logged or inspected. `Type.String({ secret: true })` works too.
 */
export function Secret<T extends TSchema>(schema: T): T {
  // TypeBox keeps its own markers (`~kind`, `~optional`) as non-enumerable properties, so a plain spread would
  // drop them; copying descriptors keeps the schema usable by TypeBox and by `Type.Optional()`.
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as T;
  Object.defineProperty(copy, 'secret', {
    value: true,
    enumerable: true,
    writable: false,
    configurable: true,
  });
  return copy;
}

export function isSecret(schema: TSchema): boolean {
  return (schema as { secret?: unknown }).secret === true;
}

export const REDACTED_VALUE = '[redacted]';
// Brackets would be percent-encoded inside a URL's userinfo.
const URL_MASK = '***';

/**
 * Hides the password of a URL-shaped value (`nats://user:pass@host`) in variables that are not marked secret:
 * an operator may put credentials into any URL, and they must not leak through logs either.
 */
export function maskUrlCredentials(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    if (url.password === '' && url.username === '') return value;
    if (url.password !== '') url.password = URL_MASK;
    else url.username = URL_MASK;
    return url.toString();
  } catch {
    return value.replace(/\/\/[^/@]*@/, `//${URL_MASK}@`);
  }
}
