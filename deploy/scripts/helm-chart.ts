/**
 * Generates deploy/helm/immune from deploy/kubernetes (the tested source): there is no Helm binary for our
 * machines, so the chart is not hand-written but derived from what `kubectl kustomize` renders and CI validates.
 * Only what an operator sets is templated: the namespace, image registry and tag, replicas (the sentinel's
 * SENTINEL_REPLICAS follows), resources, autoscaling bounds, the names of the referenced Secrets, NATS_URL, the
 * NATS authentication mode, and the NetworkPolicy / ServiceMonitor toggles. Everything else is the kustomize
 * output verbatim.
 *
 * The NATS authentication modes are the kustomize components rendered on their own (overlays/nats-users,
 * overlays/nats-credentials): what a component appends to a list of the base becomes that list's items under
 * `{{- if eq .Values.nats.auth "<mode>" }}`, an object only the component has becomes a template under the same
 * condition. A component that changes the base in any other way stops the generator: it has no template for it.
 *
 * Run: pnpm --filter @immune/deploy helm:generate (deploy/test/helm-chart.test.ts fails when the committed chart
 * differs from a fresh generation).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';

const kustomizeDir = fileURLToPath(new URL('../kubernetes', import.meta.url));
export const chartDir = fileURLToPath(new URL('../helm/immune', import.meta.url));

/** `nats.auth`: each mode other than `none` is the overlay that adds its kustomize component to the base. */
export const NATS_AUTH_OVERLAYS = {
  users: 'overlays/nats-users',
  credentials: 'overlays/nats-credentials',
} as const;
export type NatsAuth = 'none' | keyof typeof NATS_AUTH_OVERLAYS;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, rewritten in place before it is written out
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  [key: string]: any;
}

export function renderKustomize(path: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(kustomizeDir, path)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
}

/** Placeholders put into the objects, replaced by template expressions once they are YAML text. */
class Templating {
  readonly #expressions: string[] = [];
  readonly #blocks: string[] = [];
  readonly #conditions: string[] = [];
  static readonly END = '__HELM_END__';
  /** A scalar replaced by `{{ expression }}`. */
  scalar(expression: string): string {
    this.#expressions.push(expression);
    return `__HELM_${this.#expressions.length - 1}__`;
  }
  /** A mapping replaced by `toYaml expression`, indented to where it stands. */
  block(expression: string): string {
    this.#blocks.push(expression);
    return `__HELM_BLOCK_${this.#blocks.length - 1}__`;
  }
  /** A list item replaced by `{{- if condition }}`; the items up to the item END are what it guards. */
  condition(expression: string): string {
    this.#conditions.push(expression);
    return `__HELM_IF_${this.#conditions.length - 1}__`;
  }
  text(yaml: string): string {
    return yaml
      .replace(/^( *)([\w-]+): __HELM_BLOCK_(\d+)__$/gm, (_, indent: string, key: string, i: string) => {
        return `${indent}${key}:\n${indent}  {{- toYaml ${this.#blocks[Number(i)]} | nindent ${indent.length + 2} }}`;
      })
      .replace(/^( *)- __HELM_IF_(\d+)__$/gm, (_, indent: string, i: string) => {
        return `${indent}{{- if ${this.#conditions[Number(i)]} }}`;
      })
      .replace(/^( *)- __HELM_END__$/gm, (_, indent: string) => `${indent}{{- end }}`)
      .replace(/__HELM_(\d+)__/g, (_, i: string) => `{{ ${this.#expressions[Number(i)]} }}`);
  }
}

const serviceOf = (name: string) => name.replace(/^immune-/, '');
const serviceValues = (service: string) => `(index .Values.services ${JSON.stringify(service)})`;
const objectKey = (object: K8sObject) => `${object.kind}/${object.metadata.name}`;
const authCondition = (mode: NatsAuth) => `eq .Values.nats.auth ${JSON.stringify(mode)}`;

/** Items a variant appends to a list of the base, by the list they extend. */
type Additions = Map<unknown[], unknown[]>;

/** Where `variant` extends `base` by appending to its lists; anything else it changes is an error. */
function appendedItems(base: unknown, variant: unknown, where: string, into: Additions): void {
  if (isDeepStrictEqual(base, variant)) return;
  if (Array.isArray(base) && Array.isArray(variant)) {
    if (variant.length < base.length) throw new Error(`${where}: the component removes items of this list`);
    for (const [i, item] of base.entries()) appendedItems(item, variant[i], `${where}[${i}]`, into);
    if (variant.length > base.length) into.set(base, variant.slice(base.length));
    return;
  }
  if (typeof base === 'object' && base !== null && typeof variant === 'object' && variant !== null) {
    const keys = new Set([...Object.keys(base), ...Object.keys(variant)]);
    for (const key of keys) {
      const [from, to] = [(base as Record<string, unknown>)[key], (variant as Record<string, unknown>)[key]];
      if (from === undefined || to === undefined)
        throw new Error(
          `${where}.${key}: the component adds or removes this field, it may only append to lists`,
        );
      appendedItems(from, to, `${where}.${key}`, into);
    }
    return;
  }
  throw new Error(`${where}: the component changes this value, it may only append to lists`);
}

/** Every reference to a Secret by name, wherever it stands in a pod spec. */
function secretReferences(node: unknown, visit: (holder: Record<string, string>, key: string) => void): void {
  if (Array.isArray(node)) for (const item of node) secretReferences(item, visit);
  if (Array.isArray(node) || typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (typeof value !== 'object' || value === null) continue;
    const holder = value as Record<string, string>;
    if ((key === 'secretKeyRef' || key === 'secretRef') && typeof holder.name === 'string')
      visit(holder, 'name');
    else if (key === 'secret' && typeof holder.secretName === 'string') visit(holder, 'secretName');
    else secretReferences(value, visit);
  }
}

export function generateChart(): Map<string, string> {
  const base = renderKustomize('base');
  const serviceMonitors = renderKustomize('overlays/production').filter((o) => o.kind === 'ServiceMonitor');
  const templating = new Templating();
  const values = {
    namespaceOverride: '',
    image: { registry: '', tag: '' },
    nats: { url: '', auth: 'none' as NatsAuth },
    secretNames: {} as Record<string, string>,
    services: {} as Record<string, Record<string, unknown>>,
    networkPolicies: { enabled: true },
    serviceMonitor: { enabled: false },
  };
  /** The condition a whole template is rendered under, by object. */
  const toggles = new Map<K8sObject, string>();
  for (const object of serviceMonitors) toggles.set(object, '.Values.serviceMonitor.enabled');
  for (const object of base)
    if (object.kind === 'NetworkPolicy') toggles.set(object, '.Values.networkPolicies.enabled');

  // The authentication modes first, while the base is still what kustomize rendered.
  const byKey = new Map(base.map((object) => [objectKey(object), object]));
  const authObjects: K8sObject[] = [];
  const authAdditions = (Object.entries(NATS_AUTH_OVERLAYS) as Array<[NatsAuth, string]>).map(
    ([mode, overlay]) => {
      const additions: Additions = new Map();
      for (const object of renderKustomize(overlay)) {
        const own = byKey.get(objectKey(object));
        if (own) appendedItems(own, object, `${overlay}: ${objectKey(object)}`, additions);
        else {
          authObjects.push(object);
          toggles.set(object, authCondition(mode));
        }
      }
      return [mode, additions] as const;
    },
  );
  for (const [mode, additions] of authAdditions)
    for (const [list, items] of additions)
      list.push(templating.condition(authCondition(mode)), ...items, Templating.END);
  const objects = [...base, ...authObjects, ...serviceMonitors];

  for (const object of base) {
    if (object.kind === 'ConfigMap' && object.metadata.name.startsWith('immune-config')) {
      values.nats.url = object.data.NATS_URL;
      object.data.NATS_URL = templating.scalar('.Values.nats.url | quote');
    }
    if (object.kind === 'Deployment' || object.kind === 'StatefulSet') {
      const service = serviceOf(object.metadata.name);
      const own: Record<string, unknown> = {};
      values.services[service] = own;
      if (object.spec.replicas !== undefined) {
        own.replicas = object.spec.replicas;
        object.spec.replicas = templating.scalar(`${serviceValues(service)}.replicas`);
      }
      const pod = object.spec.template.spec;
      for (const container of pod.containers) {
        const [, registry, tag] = /^(.*)\/immune-[\w-]+:(.+)$/.exec(container.image) ?? [];
        if (!registry || !tag)
          throw new Error(`${object.metadata.name}: unexpected image ${container.image}`);
        values.image = { registry, tag };
        container.image = `${templating.scalar('.Values.image.registry')}/immune-${service}:${templating.scalar('.Values.image.tag')}`;
        own.resources = container.resources;
        container.resources = templating.block(`${serviceValues(service)}.resources`);
        for (const env of container.env ?? [])
          if (env.name === 'SENTINEL_REPLICAS')
            env.value = templating.scalar(`${serviceValues(service)}.replicas | quote`);
      }
      secretReferences(pod, (holder, key) => {
        const name = holder[key]!;
        values.secretNames[name] = name;
        holder[key] = templating.scalar(`index .Values.secretNames ${JSON.stringify(name)} | quote`);
      });
    }
  }
  for (const object of base) {
    if (object.kind !== 'HorizontalPodAutoscaler') continue;
    const own = values.services[serviceOf(object.spec.scaleTargetRef.name)]!;
    own.autoscaling = { minReplicas: object.spec.minReplicas, maxReplicas: object.spec.maxReplicas };
    const at = `${serviceValues(serviceOf(object.spec.scaleTargetRef.name))}.autoscaling`;
    object.spec.minReplicas = templating.scalar(`${at}.minReplicas`);
    object.spec.maxReplicas = templating.scalar(`${at}.maxReplicas`);
  }

  const files = new Map<string, string>();
  const header = '# Generated by deploy/scripts/helm-chart.ts from deploy/kubernetes: do not edit.\n';
  // Every object of the install is namespaced: Helm's --namespace, unless the values name another.
  const namespace = templating.scalar('.Values.namespaceOverride | default .Release.Namespace | quote');
  for (const object of objects) {
    object.metadata.namespace = namespace;
    const yaml = stringify(object, { lineWidth: 0 });
    if (yaml.includes('{{')) throw new Error(`${objectKey(object)}: holds template delimiters verbatim`);
    const body = templating.text(yaml);
    const toggle = toggles.get(object);
    const text = toggle ? `{{- if ${toggle} }}\n${body}{{- end }}\n` : body;
    files.set(`templates/${object.kind.toLowerCase()}-${object.metadata.name}.yaml`, header + text);
  }
  // Helm has no enum for a value but this: an unknown mode would otherwise render as `none`.
  const modes = ['none', ...Object.keys(NATS_AUTH_OVERLAYS)];
  files.set(
    'templates/validate-values.yaml',
    `${header}{{- if not (has .Values.nats.auth (list ${modes.map((m) => JSON.stringify(m)).join(' ')})) }}\n` +
      `{{- fail "nats.auth must be one of ${modes.join(', ')}" }}\n{{- end }}\n`,
  );
  values.secretNames = Object.fromEntries(
    Object.entries(values.secretNames).sort(([a], [b]) => a.localeCompare(b)),
  );
  files.set('values.yaml', `${header}${stringify(values, { lineWidth: 0 })}`);
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const templates = join(chartDir, 'templates');
  const files = generateChart();
  rmSync(templates, { recursive: true, force: true });
  mkdirSync(templates, { recursive: true });
  for (const [path, text] of files) writeFileSync(join(chartDir, path), text);
  process.stdout.write(`wrote ${readdirSync(templates).length} templates and values.yaml to ${chartDir}\n`);
}
