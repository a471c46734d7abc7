import type { TSchema } from 'typebox';

interface SchemaShape {
  type?: string | string[];
  anyOf?: SchemaShape[];
  enum?: unknown[];
  const?: unknown;
  items?: SchemaShape;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  errorMessage?: string;
}

/**
 * States what a variable must look like, from its schema: `must be an integer 1..65535`. Operators read this in
 * a crash loop's last log line, so it names the rule instead of TypeBox's keyword (`must be <= 65535`).
 * A schema can override it with an `errorMessage` annotation.
 */
export function describeExpectation(schema: TSchema): string | undefined {
  const shape = schema as SchemaShape;
  if (typeof shape.errorMessage === 'string') return shape.errorMessage;
  const choices = literalChoices(shape);
  if (choices) return `must be one of ${choices.join('|')}`;
  if (shape.anyOf) return describeUnion(shape.anyOf);
  const type = Array.isArray(shape.type) ? shape.type.find((t) => t !== 'null') : shape.type;
  switch (type) {
    case 'integer':
      return `must be an integer${range(shape)}`;
    case 'number':
      return `must be a number${range(shape)}`;
    case 'boolean':
      return 'must be true or false';
    case 'string':
      return describeString(shape);
    case 'array': {
      const item = shape.items ? describeExpectation(shape.items as TSchema) : undefined;
      const size = shape.minItems ? ` of at least ${shape.minItems}` : '';
      return `must be a comma-separated list${size}${item ? `; each item ${item}` : ''}`;
    }
    case 'object':
      return 'must be a JSON object of the documented shape';
    default:
      return undefined;
  }
}

function literalChoices(shape: SchemaShape): string[] | undefined {
  if (shape.enum) return shape.enum.map(String);
  if (shape.anyOf?.every((branch) => branch.const !== undefined))
    return shape.anyOf.map((b) => String(b.const));
  return undefined;
}

function describeUnion(branches: SchemaShape[]): string | undefined {
  const parts = branches.map((branch) =>
    branch.const !== undefined
      ? String(branch.const)
      : describeExpectation(branch as TSchema)?.replace(/^must be /, ''),
  );
  return parts.every((part) => part !== undefined) ? `must be ${parts.join(' or ')}` : undefined;
}

function range(shape: SchemaShape): string {
  const low =
    shape.minimum ?? (shape.exclusiveMinimum !== undefined ? `>${shape.exclusiveMinimum}` : undefined);
  const high =
    shape.maximum ?? (shape.exclusiveMaximum !== undefined ? `<${shape.exclusiveMaximum}` : undefined);
  if (typeof low === 'number' && typeof high === 'number') return ` ${low}..${high}`;
  if (low !== undefined && high !== undefined) return ` ${low} and ${high}`;
  if (typeof low === 'number') return ` >= ${low}`;
  if (low !== undefined) return ` ${low}`;
  if (typeof high === 'number') return ` <= ${high}`;
  if (high !== undefined) return ` ${high}`;
  return '';
}

function describeString(shape: SchemaShape): string {
  if (shape.format === 'uri' || shape.format === 'url') return 'must be a URL (scheme://host...)';
  if (shape.format) return `must be a valid ${shape.format}`;
  const parts: string[] = [];
  if (shape.minLength === 1 && shape.maxLength === undefined) parts.push('a non-empty string');
  else if (shape.minLength !== undefined || shape.maxLength !== undefined)
    parts.push(`a string of ${shape.minLength ?? 0}..${shape.maxLength ?? '∞'} characters`);
  else parts.push('a string');
  if (shape.pattern) parts.push(`matching /${shape.pattern}/`);
  return `must be ${parts.join(' ')}`;
}
