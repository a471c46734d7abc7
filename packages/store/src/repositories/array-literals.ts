/**
 * PostgreSQL array literals built directly, for the batched vitals insert. Letting the driver convert JS
 * arrays costs a prepare call, a regex pass and quotes on every element, numbers included; building the
 * literal here took a sixth of the time for a batch. The same string works with pg and PGlite, which both
 * pass a string parameter through untouched.
 */

const QUOTE_OR_BACKSLASH = /["\\]/;
const QUOTES_AND_BACKSLASHES = /["\\]/g;
const NUL = String.fromCharCode(0);

function quoted(text: string): string {
  // PostgreSQL text cannot hold NUL; one such character would otherwise fail the whole batch.
  const storable = text.includes(NUL) ? text.replaceAll(NUL, '\uFFFD') : text;
  return QUOTE_OR_BACKSLASH.test(storable)
    ? `"${storable.replace(QUOTES_AND_BACKSLASHES, '\\$&')}"`
    : `"${storable}"`;
}

/** Every element quoted, so empty strings, the word NULL, commas, braces and spaces stay literal. */
export function textArrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const value = values[i];
    if (value === null || value === undefined) {
      out += 'NULL';
      continue;
    }
    out += quoted(String(value));
  }
  return `${out}}`;
}

/** Numbers print without quotes; JS's shortest round-trip form reads back as the same double. */
export function numberArrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const value = values[i];
    out += value === null || value === undefined ? 'NULL' : String(value);
  }
  return `${out}}`;
}

export function booleanArrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const value = values[i];
    out += value === null || value === undefined ? 'NULL' : value ? 't' : 'f';
  }
  return `${out}}`;
}
