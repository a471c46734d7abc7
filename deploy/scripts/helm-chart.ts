/**
 * Generates deploy/helm/immune from the kustomize base (deploy/kubernetes, the tested source): there is no Helm
 * binary for our machines, so the chart is not hand-written but derived from what `kubectl kustomize` renders
 * and CI validates. Only what an operator sets is templated: image registry and tag, replicas (the sentinel's
 * SENTINEL_REPLICAS follows), resources, autoscaling bounds, the names of the referenced Secrets, NATS_URL, and
 * the NetworkPolicy / ServiceMonitor toggles. Everything else is the kustomize output verbatim.
 *
 * Run: pnpm --filter @immune/deploy helm:generate (deploy/test/helm-chart.test.ts fails when the committed chart
 * differs from a fresh generation).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

const kustomizeDir = fileURLToPath(new URL('../kubernetes', import.meta.url));
export const chartDir = fileURLToPath(new URL('../helm/immune', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, rewritten in place before it is written out
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  [key: string]: any;
}

function render(path: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(kustomizeDir, path)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
}

/** Placeholders put into the objects, replaced by template expressions once they are YAML text. */
class Templating {
  readonly #expressions: string[] = [];
  readonly #blocks: string[] = [];
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
  text(yaml: string): string {
    return yaml
      .replace(/^( *)([\w-]+): __HELM_BLOCK_(\d+)__$/gm, (_, indent: string, key: string, i: string) => {
        return `${indent}${key}:\n${indent}  {{- toYaml ${this.#blocks[Number(i)]} | nindent ${indent.length + 2} }}`;
      })
      .replace(/__HELM_(\d+)__/g, (_, i: string) => `{{ ${this.#expressions[Number(i)]} }}`);
  }
}

const serviceOf = (name: string) => name.replace(/^immune-/, '');
const serviceValues = (service: string) => `(index .Values.services ${JSON.stringify(service)})`;

export function generateChart(): Map<string, string> {
  const base = render('base');
  const serviceMonitors = render('overlays/production').filter((o) => o.kind === 'ServiceMonitor');
  const templating = new Templating();
  const values = {
    image: { registry: '', tag: '' },
    nats: { url: '' },
    secretNames: {} as Record<string, string>,
    services: {} as Record<string, Record<string, unknown>>,
    networkPolicies: { enabled: true },
    serviceMonitor: { enabled: false },
  };

  const secretName = (name: string) => {
    values.secretNames[name] = name;
    return templating.scalar(`index .Values.secretNames ${JSON.stringify(name)} | quote`);
  };

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
        for (const env of container.env ?? []) {
          if (env.name === 'SENTINEL_REPLICAS')
            env.value = templating.scalar(`${serviceValues(service)}.replicas | quote`);
          if (env.valueFrom?.secretKeyRef)
            env.valueFrom.secretKeyRef.name = secretName(env.valueFrom.secretKeyRef.name);
        }
        for (const from of container.envFrom ?? [])
          if (from.secretRef) from.secretRef.name = secretName(from.secretRef.name);
      }
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
  const header = '# Generated by deploy/scripts/helm-chart.ts from deploy/kubernetes/base: do not edit.\n';
  const toggles: Record<string, string> = {
    NetworkPolicy: '.Values.networkPolicies.enabled',
    ServiceMonitor: '.Values.serviceMonitor.enabled',
  };
  for (const object of [...base, ...serviceMonitors]) {
    delete object.metadata.namespace;
    const body = templating.text(stringify(object, { lineWidth: 0 }));
    const toggle = toggles[object.kind];
    const text = toggle ? `{{- if ${toggle} }}\n${body}{{- end }}\n` : body;
    files.set(`templates/${object.kind.toLowerCase()}-${object.metadata.name}.yaml`, header + text);
  }
  files.set('values.yaml', `${header}${stringify(values, { lineWidth: 0 })}`);
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const templates = join(chartDir, 'templates');
  rmSync(templates, { recursive: true, force: true });
  mkdirSync(templates, { recursive: true });
  for (const [path, text] of generateChart()) writeFileSync(join(chartDir, path), text);
  process.stdout.write(`wrote ${readdirSync(templates).length} templates and values.yaml to ${chartDir}\n`);
}
