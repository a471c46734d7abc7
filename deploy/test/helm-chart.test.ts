import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { chartDir, generateChart, NATS_AUTH_OVERLAYS, renderKustomize } from '../scripts/helm-chart.js';
import { renderTemplate, type Values } from './helm-render.js';
import { type K8sObject, schemaErrors } from './schemas.js';

// The Helm chart is generated from deploy/kubernetes (deploy/scripts/helm-chart.ts). There is no Helm binary
// here, so ./helm-render.ts renders the chart's templates (the Go-template subset the generator writes, failing
// on anything else). With its default values the chart must be the kustomize base object for object, with each
// `nats.auth` mode the kustomize overlay of that component; every render below, defaults or not, is validated
// against the Kubernetes API schemas like the kustomize renders in kubernetes.test.ts.

const RELEASE_NAMESPACE = 'immune-release';

function renderChart(overrides: (values: Values) => void = () => {}): K8sObject[] {
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Values;
  overrides(values);
  const scope = { Values: values, Release: { Namespace: RELEASE_NAMESPACE } };
  const dir = join(chartDir, 'templates');
  return readdirSync(dir).flatMap((file) =>
    parseAllDocuments(renderTemplate(readFileSync(join(dir, file), 'utf8'), scope))
      .map((doc) => doc.toJSON() as K8sObject | null)
      .filter((object) => object !== null),
  );
}

/** What `kubectl kustomize` renders for `path`, installed into the release's namespace. */
function kustomize(path: string): K8sObject[] {
  return renderKustomize(path).map((object) => ({
    ...object,
    metadata: { ...object.metadata, namespace: RELEASE_NAMESPACE },
  }));
}

const byName = (objects: K8sObject[]) =>
  objects.map((o) => [`${o.kind}/${o.metadata.name}`, o] as const).sort(([a], [b]) => a.localeCompare(b));

const services = (values: Values) => values.services as Record<string, Values>;
const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const container = (workload: K8sObject) => workload.spec.template.spec.containers[0];
const envOf = (workload: K8sObject) =>
  new Map(
    (container(workload).env as Array<{ name: string; value?: string; valueFrom?: unknown }>).map((e) => [
      e.name,
      e.value ?? e.valueFrom,
    ]),
  );
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

/** The names of every Secret the objects reference, wherever the reference stands. */
function secretNames(node: unknown, into = new Set<string>()): Set<string> {
  if (typeof node !== 'object' || node === null) return into;
  for (const [key, value] of Object.entries(node)) {
    const holder = value as { name?: string; secretName?: string } | null;
    if ((key === 'secretKeyRef' || key === 'secretRef') && holder?.name) into.add(holder.name);
    else if (key === 'secret' && holder?.secretName) into.add(holder.secretName);
    else secretNames(value, into);
  }
  return into;
}

describe('the Helm chart generated from deploy/kubernetes', () => {
  it('is what the generator writes now (run `pnpm --filter @immune/deploy helm:generate`)', () => {
    const generated = generateChart();
    const committed = readdirSync(join(chartDir, 'templates')).map((file) => `templates/${file}`);
    expect(committed.sort()).toEqual(
      [...generated.keys()].filter((path) => path.startsWith('templates/')).sort(),
    );
    for (const [path, text] of generated) expect(readFileSync(join(chartDir, path), 'utf8'), path).toBe(text);
  });

  it('renders, with its default values, exactly the kustomize base, in the release namespace', () => {
    expect(byName(renderChart())).toEqual(byName(kustomize('base')));
  });

  it.each(Object.entries(NATS_AUTH_OVERLAYS))(
    'renders, with nats.auth %s, exactly the kustomize %s',
    (mode, path) => {
      expect(byName(renderChart((values) => Object.assign(values.nats as Values, { auth: mode })))).toEqual(
        byName(kustomize(path)),
      );
    },
  );

  it('refuses a NATS authentication mode it does not have', () => {
    expect(() =>
      renderChart((values) => Object.assign(values.nats as Values, { auth: 'credential' })),
    ).toThrow(/nats.auth must be one of none, users, credentials/);
  });
});

// Each case: what an operator sets, and what the render must then show (besides validating).
const renders: Array<[string, (values: Values) => void, (objects: K8sObject[]) => void]> = [
  [
    'its default values',
    () => {},
    (objects) => {
      expect(objects.some((o) => o.kind === 'NetworkPolicy')).toBe(true);
      expect(objects.some((o) => o.kind === 'ServiceMonitor')).toBe(false);
      for (const workload of workloads(objects))
        for (const name of ['NATS_USER', 'NATS_PASSWORD', 'NATS_CREDS_FILE'])
          expect(envOf(workload).has(name), `${workload.metadata.name} ${name}`).toBe(false);
    },
  ],
  [
    'nats.auth users and its Secret renamed',
    (values) => {
      Object.assign(values.nats as Values, { auth: 'users' });
      Object.assign(values.secretNames as Values, { 'immune-nats-users': 'acme-nats-passwords' });
    },
    (objects) => {
      for (const workload of workloads(objects)) {
        const service = workload.metadata.name.replace(/^immune-/, '');
        expect(envOf(workload).get('NATS_USER')).toBe(service);
        expect(envOf(workload).get('NATS_PASSWORD')).toEqual({
          secretKeyRef: { name: 'acme-nats-passwords', key: service },
        });
      }
      expect(objects.some((o) => o.metadata.name.startsWith('immune-nats-permissions'))).toBe(true);
    },
  ],
  [
    'nats.auth credentials and its Secret renamed',
    (values) => {
      Object.assign(values.nats as Values, { auth: 'credentials' });
      Object.assign(values.secretNames as Values, { 'immune-nats-credentials': 'acme-nats-creds' });
    },
    (objects) => {
      for (const workload of workloads(objects)) {
        const service = workload.metadata.name.replace(/^immune-/, '');
        expect(envOf(workload).get('NATS_CREDS_FILE')).toBe(`/etc/immune/nats/${service}.creds`);
        const pod = workload.spec.template.spec;
        const volume = pod.volumes.find((v: { name: string }) => v.name === 'nats-credentials');
        expect(volume.secret.secretName).toBe('acme-nats-creds');
        expect(container(workload).volumeMounts).toContainEqual({
          name: 'nats-credentials',
          mountPath: '/etc/immune/nats',
          readOnly: true,
        });
      }
      expect(objects.some((o) => o.metadata.name.startsWith('immune-nats-permissions'))).toBe(false);
    },
  ],
  [
    'the ServiceMonitor on and the NetworkPolicies off',
    (values) => {
      values.serviceMonitor = { enabled: true };
      values.networkPolicies = { enabled: false };
    },
    (objects) => {
      expect(objects.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(1);
      expect(objects.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
    },
  ],
  [
    'replicas, autoscaling and resources changed',
    (values) => {
      services(values).sentinel!.replicas = 3;
      services(values).healer!.replicas = 2;
      services(values).gateway!.autoscaling = { minReplicas: 4, maxReplicas: 20 };
      services(values).ingest!.resources = {
        requests: { cpu: '1', memory: '1Gi' },
        limits: { memory: '2Gi' },
      };
    },
    (objects) => {
      const sentinel = find(objects, 'StatefulSet', 'immune-sentinel')!;
      expect(sentinel.spec.replicas).toBe(3);
      expect(envOf(sentinel).get('SENTINEL_REPLICAS')).toBe('3');
      expect(find(objects, 'Deployment', 'immune-healer')!.spec.replicas).toBe(2);
      expect(find(objects, 'HorizontalPodAutoscaler', 'immune-gateway')!.spec).toMatchObject({
        minReplicas: 4,
        maxReplicas: 20,
      });
      expect(container(find(objects, 'Deployment', 'immune-ingest')!).resources).toEqual({
        requests: { cpu: '1', memory: '1Gi' },
        limits: { memory: '2Gi' },
      });
    },
  ],
  [
    'namespaceOverride, with the ServiceMonitor and NATS users',
    (values) => {
      values.namespaceOverride = 'immune-prod';
      values.serviceMonitor = { enabled: true };
      Object.assign(values.nats as Values, { auth: 'users' });
    },
    (objects) => {
      for (const object of objects)
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe('immune-prod');
    },
  ],
  [
    'another registry, tag and NATS URL, and every Secret renamed',
    (values) => {
      values.image = { registry: 'registry.example/immune', tag: '9.9.9' };
      Object.assign(values.nats as Values, { url: 'nats://nats.example:4222', auth: 'credentials' });
      const names = values.secretNames as Record<string, string>;
      for (const name of Object.keys(names)) names[name] = `acme-${name}`;
    },
    (objects) => {
      for (const workload of workloads(objects)) {
        const service = workload.metadata.name.replace(/^immune-/, '');
        expect(container(workload).image).toBe(`registry.example/immune/immune-${service}:9.9.9`);
      }
      const config = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('immune-config'),
      );
      expect(config?.data?.NATS_URL).toBe('nats://nats.example:4222');
      const referenced = [...secretNames(objects)];
      expect(referenced.length).toBeGreaterThan(3);
      for (const name of referenced) expect(name).toMatch(/^acme-immune-/);
    },
  ],
];

describe.each(renders)('the Helm chart rendered with %s', (_, set, check) => {
  const objects = renderChart(set);

  it('renders objects that all validate against the Kubernetes API schemas', async () => {
    expect(objects.length).toBeGreaterThan(10);
    expect(await schemaErrors(objects)).toEqual([]);
  });

  it('applies what was set', () => check(objects));
});
