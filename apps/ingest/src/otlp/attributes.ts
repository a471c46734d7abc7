import type { Attributes, AttrValue } from './model.js';

/*
 * Reading span attributes the way emitters really send them: a number may come as a numeric string, a
 * structured value as a JSON string or as an OTLP array/kvlist.
 */

export function firstString(attributes: Attributes, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

export function firstNumber(attributes: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = numberOf(attributes.get(key));
    if (value !== undefined) return value;
  }
  return undefined;
}

export function numberOf(value: AttrValue | undefined): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return undefined;
}

/** A structured attribute: OTLP array/kvlist as is, or a JSON string parsed (undefined when it is not JSON). */
export function structuredOf(value: AttrValue | undefined): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trimStart();
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

/** A list attribute: an OTLP array, a JSON array string, or a single string as a one-element list. */
export function listOf(value: AttrValue | undefined): unknown[] {
  const structured = structuredOf(value);
  if (Array.isArray(structured)) return structured;
  if (typeof value === 'string' && value !== '') return [value];
  return [];
}

/**
 * Flattened indexed attributes (`gen_ai.prompt.0.role`, `llm.input_messages.1.message.content`) gathered into
 * a list of records: `indexed(attrs, 'gen_ai.prompt.')` → `[{ role, content }, …]` in index order.
 */
export function indexed(attributes: Attributes, prefix: string): Array<Record<string, AttrValue>> {
  const rows = new Map<number, Record<string, AttrValue>>();
  for (const [key, value] of attributes) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const dot = rest.indexOf('.');
    if (dot <= 0) continue;
    const index = Number(rest.slice(0, dot));
    if (!Number.isInteger(index) || index < 0) continue;
    let row = rows.get(index);
    if (row === undefined) {
      row = {};
      rows.set(index, row);
    }
    row[rest.slice(dot + 1)] = value;
  }
  return [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
}
