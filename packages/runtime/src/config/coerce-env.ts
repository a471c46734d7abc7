import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';

interface SchemaShape {
  type?: string | string[];
  anyOf?: TSchema[];
  items?: TSchema;
  const?: unknown;
  enum?: unknown[];
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/**
 * Turns the raw string of an env variable into the value its schema expects. A string that cannot be coerced is
 * returned unchanged so that validation reports it with the schema's own message.
 */
export function coerceEnvValue(schema: TSchema, raw: string): unknown {
  const shape = schema as SchemaShape;
  if (shape.anyOf) return coerceToUnion(shape.anyOf, raw);
  if (shape.enum) return shape.enum.find((member) => String(member) === raw.trim()) ?? raw;
  if (shape.const !== undefined) return String(shape.const) === raw.trim() ? shape.const : raw;
  switch (primaryType(shape)) {
    case 'integer':
    case 'number':
      return NUMERIC.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean':
      return coerceBoolean(raw);
    case 'array':
      return coerceList(shape.items, raw);
    case 'object':
      return parseJson(raw);
    default:
      return raw;
  }
}

function primaryType(shape: SchemaShape): string | undefined {
  return Array.isArray(shape.type) ? shape.type.find((type) => type !== 'null') : shape.type;
}

function coerceBoolean(raw: string): unknown {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return raw;
}

/** Lists are comma-separated (`a, b,c`), or JSON when they hold objects or start with `[`. */
function coerceList(items: TSchema | undefined, raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[')) return parseJson(raw);
  if (items && primaryType(items as SchemaShape) === 'object') return parseJson(raw);
  const parts = trimmed
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return items ? parts.map((part) => coerceEnvValue(items, part)) : parts;
}

function coerceToUnion(branches: TSchema[], raw: string): unknown {
  for (const branch of branches) {
    const candidate = coerceEnvValue(branch, raw);
    if (Value.Check(branch, candidate)) return candidate;
  }
  return raw;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
