import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { chartDir, generateChart } from '../scripts/helm-chart.js';

// The Helm chart is generated from the kustomize base (deploy/scripts/helm-chart.ts). There is no Helm binary
// here, so this renders the chart's templates with a minimal evaluator of exactly the expressions the generator
// writes (a Values path, `index`, `| quote`, `toYaml … | nindent n`, `if`) and asks that, with the default
// values, the chart is the kustomize base object for object (which kubernetes.test.ts validates against the API
// schemas); any other expression fails the evaluator.

type Values = Record<string, unknown>;

/** `.Values.a.b`, or `index .Values.a "key"` optionally parenthesised and followed by `.b.c`. */
function lookup(values: Values, expression: string): unknown {
  const indexed = /^\(?index \.Values\.(\w+) "([\w-]+)"\)?(?:\.([\w.]+))?$/.exec(expression);
  const plain = /^\.Values\.([\w.]+)$/.exec(expression);
  if (!indexed && !plain) throw new Error(`unknown expression ${expression}`);
  let node: unknown = indexed ? (values[indexed[1]!] as Values)[indexed[2]!] : values;
  const path = indexed ? indexed[3] : plain![1];
  for (const part of path ? path.split('.') : []) node = (node as Values | undefined)?.[part];
  if (node === undefined) throw new Error(`no value for ${expression}`);
  return node;
}

function renderTemplate(text: string, values: Values): string {
  return text
    .replace(/\{\{- if (\S+) \}\}\n([\s\S]*?)\{\{- end \}\}\n/g, (_, condition: string, body: string) =>
      lookup(values, condition) ? body : '',
    )
    .replace(/\n *\{\{- toYaml (.+?) \| nindent (\d+) \}\}/g, (_, expression: string, indent: string) => {
      const pad = ' '.repeat(Number(indent));
      const yaml = stringify(lookup(values, expression)).trimEnd();
      return `\n${yaml
        .split('\n')
        .map((line) => pad + line)
        .join('\n')}`;
    })
    .replace(/\{\{ (.+?)( \| quote)? \}\}/g, (_, expression: string, quote?: string) => {
      const value = lookup(values, expression);
      return quote ? JSON.stringify(String(value)) : String(value);
    });
}

function renderChart(overrides: (values: Values) => void = () => {}): unknown[] {
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Values;
  overrides(values);
  const dir = join(chartDir, 'templates');
  return readdirSync(dir).flatMap((file) =>
    parseAllDocuments(renderTemplate(readFileSync(join(dir, file), 'utf8'), values))
      .map((doc) => doc.toJSON())
      .filter((object) => object !== null),
  );
}

const byName = (objects: unknown[]) =>
  (objects as Array<{ kind: string; metadata: { name: string } }>)
    .map((o) => [`${o.kind}/${o.metadata.name}`, o] as const)
    .sort(([a], [b]) => a.localeCompare(b));

describe('the Helm chart generated from the kustomize base', () => {
  it('is what the generator writes now (run `pnpm --filter @immune/deploy helm:generate`)', () => {
    const generated = generateChart();
    const committed = readdirSync(join(chartDir, 'templates')).map((file) => `templates/${file}`);
    expect(committed.sort()).toEqual(
      [...generated.keys()].filter((path) => path.startsWith('templates/')).sort(),
    );
    for (const [path, text] of generated) expect(readFileSync(join(chartDir, path), 'utf8'), path).toBe(text);
  });

  it('renders, with its default values, exactly the kustomize base', () => {
    const base = parseAllDocuments(
      execFileSync('kubectl', ['kustomize', fileURLToPath(new URL('../kubernetes/base', import.meta.url))], {
        encoding: 'utf8',
      }),
    ).map((doc) => doc.toJSON());
    expect(byName(renderChart())).toEqual(byName(base));
  });

  it('applies what an operator sets', () => {
    const objects = renderChart((values) => {
      values.image = { registry: 'registry.example/immune', tag: '9.9.9' };
      (values.services as Record<string, Values>).sentinel!.replicas = 3;
      values.networkPolicies = { enabled: false };
      values.serviceMonitor = { enabled: true };
    }) as Array<{ kind: string; metadata: { name: string }; spec?: Values & { template?: never } }>;
    const kinds = objects.map((o) => o.kind);
    expect(kinds).not.toContain('NetworkPolicy');
    expect(kinds).toContain('ServiceMonitor');
    // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, inspected loosely
    const sentinel = objects.find((o) => o.kind === 'StatefulSet') as any;
    expect(sentinel.spec.replicas).toBe(3);
    const container = sentinel.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example/immune/immune-sentinel:9.9.9');
    expect(container.env.find((e: { name: string }) => e.name === 'SENTINEL_REPLICAS').value).toBe('3');
  });
});
