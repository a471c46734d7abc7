/**
 * A renderer of the Go-template subset deploy/scripts/helm-chart.ts writes, standing in for `helm template`
 * (there is no Helm binary for our machines). It follows Helm where the chart relies on it: `{{-` / `-}}` trim
 * the whitespace beside them, `if` is false for false, 0, "" and empty collections, `default` replaces an empty
 * value, `toYaml` drops the final newline, `fail` stops the render. Anything else fails loudly rather than rendering what Helm would not:
 * an unknown function or syntax, `else`, a missing value (Helm would print `<no value>`), a mapping where text
 * is expected.
 */
import { stringify } from 'yaml';

export type Values = Record<string, unknown>;
export interface Scope {
  Values: Values;
  Release: { Namespace: string };
}

type Node = string | { pipeline: string } | { condition: string; body: Node[] };

/** The template as text and actions, the whitespace beside `{{-` and `-}}` already trimmed. */
function lex(template: string): Array<string | { action: string }> {
  const pieces: Array<string | { action: string }> = [];
  let at = 0;
  let trimNext = false;
  for (const match of template.matchAll(/\{\{(- )?\s*([\s\S]*?)\s*( -)?\}\}/g)) {
    let text = template.slice(at, match.index);
    if (trimNext) text = text.trimStart();
    if (match[1]) text = text.trimEnd();
    pieces.push(text, { action: match[2]! });
    trimNext = match[3] !== undefined;
    at = match.index + match[0].length;
  }
  const rest = template.slice(at);
  pieces.push(trimNext ? rest.trimStart() : rest);
  return pieces;
}

function parse(template: string): Node[] {
  const root: Node[] = [];
  const open: Node[][] = [root];
  for (const piece of lex(template)) {
    const into = open[open.length - 1]!;
    if (typeof piece === 'string') {
      if (piece) into.push(piece);
      continue;
    }
    const [keyword, ...rest] = piece.action.split(' ');
    if (keyword === 'if') {
      const node = { condition: rest.join(' '), body: [] as Node[] };
      into.push(node);
      open.push(node.body);
    } else if (keyword === 'end') {
      if (open.length === 1) throw new Error('{{ end }} without {{ if }}');
      open.pop();
    } else if (keyword === 'else' || keyword === 'range' || keyword === 'with' || keyword === 'define')
      throw new Error(`unsupported action ${piece.action}`);
    else into.push({ pipeline: piece.action });
  }
  if (open.length !== 1) throw new Error('{{ if }} without {{ end }}');
  return root;
}

const TOKEN = /\s*(\(|\)|\||"(?:[^"\\]|\\.)*"|\.[\w.]*|[\w-]+)/y;

function tokens(pipeline: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < pipeline.length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(pipeline);
    if (!match) throw new Error(`cannot read ${pipeline.slice(at)} in ${pipeline}`);
    // A field right after `)` reads the result of the parenthesised pipeline: `(index .Values.a "b").c`.
    const chained = match[1]!.startsWith('.') && match[0] === match[1] && out[out.length - 1] === ')';
    out.push(chained ? `)${match[1]}` : match[1]!);
    if (chained) out.splice(out.length - 2, 1);
  }
  return out;
}

const empty = (value: unknown) =>
  value === undefined ||
  value === null ||
  value === false ||
  value === 0 ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && Object.keys(value).length === 0);

function field(from: unknown, path: string, whole: string): unknown {
  let node = from;
  for (const part of path.split('.').filter(Boolean))
    node =
      typeof node === 'object' && node !== null && Object.hasOwn(node, part)
        ? (node as Values)[part]
        : undefined;
  if (node === undefined) throw new Error(`no value for ${whole}`);
  return node;
}

const FUNCTIONS = new Map<string, (...args: unknown[]) => unknown>(
  Object.entries({
    index: (collection, ...keys) =>
      keys.reduce((node, key) => field(node, String(key), `index … ${key}`), collection),
    eq: (a, b) => a === b,
    not: (value) => empty(value),
    list: (...items) => items,
    has: (needle, list) => (list as unknown[]).includes(needle),
    fail: (message) => {
      throw new Error(`fail: ${message}`);
    },
    quote: (value) => JSON.stringify(String(value)),
    default: (fallback, value) => (empty(value) ? fallback : value),
    toYaml: (value) => stringify(value).replace(/\n$/, ''),
    nindent: (width, text) =>
      `\n${String(text)
        .split('\n')
        .map((line) => ' '.repeat(Number(width)) + line)
        .join('\n')}`,
  }),
);

/** Evaluates `command (| command)*`, each command's result the last argument of the next. */
function evaluate(words: string[], scope: Scope, whole: string): unknown {
  let position = 0;
  const operand = (): unknown => {
    const word = words[position++];
    if (word === undefined) throw new Error(`${whole}: expected an operand`);
    if (word === '(') {
      const start = position;
      let depth = 1;
      while (depth > 0 && position < words.length) {
        const next = words[position++]!;
        if (next === '(') depth++;
        if (next === ')' || next.startsWith(').')) depth--;
      }
      const closing = words[position - 1];
      if (depth > 0 || closing === undefined) throw new Error(`${whole}: unbalanced parentheses`);
      const inner = evaluate(words.slice(start, position - 1), scope, whole);
      return closing === ')' ? inner : field(inner, closing.slice(2), whole);
    }
    if (word.startsWith('"')) return JSON.parse(word) as string;
    if (/^\d+$/.test(word)) return Number(word);
    if (word.startsWith('.')) return field(scope, word.slice(1), whole);
    throw new Error(`${whole}: unexpected ${word}`);
  };
  let result: unknown;
  let piped = false;
  while (position < words.length) {
    const name = words[position]!;
    const fn = FUNCTIONS.get(name);
    if (fn) position++;
    else if (/^[\w-]+$/.test(name)) throw new Error(`${whole}: unknown function ${name}`);
    const args: unknown[] = [];
    while (position < words.length && words[position] !== '|') args.push(operand());
    if (piped) args.push(result);
    if (!fn && args.length !== 1) throw new Error(`${whole}: a value cannot take arguments`);
    result = fn ? fn(...args) : args[0];
    piped = words[position] === '|';
    if (piped) position++;
  }
  return result;
}

function output(nodes: Node[], scope: Scope): string {
  return nodes
    .map((node) => {
      if (typeof node === 'string') return node;
      if ('condition' in node)
        return empty(evaluate(tokens(node.condition), scope, node.condition)) ? '' : output(node.body, scope);
      const value = evaluate(tokens(node.pipeline), scope, node.pipeline);
      if (typeof value === 'object' && value !== null)
        throw new Error(`${node.pipeline}: a collection where text is expected`);
      return String(value);
    })
    .join('');
}

export function renderTemplate(template: string, scope: Scope): string {
  return output(parse(template), scope);
}
