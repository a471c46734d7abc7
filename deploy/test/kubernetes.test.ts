import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type K8sObject, schemaErrors } from './schemas.js';

// deploy/kubernetes is the tested source of the Kubernetes install: rendered here by the real `kubectl
// kustomize` (.ci/run refuses to go on without kubectl), every object validated against the Kubernetes API's
// OpenAPI schemas (kubernetes-models, and the prometheus-operator models for the ServiceMonitor), then checked
// for what an operator expects of it. No cluster is needed: `kubectl apply --dry-run=client` would need one.

const kustomizeDir = fileURLToPath(new URL('../kubernetes', import.meta.url));

function render(path: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(kustomizeDir, path)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
}

const SCALED = ['gateway', 'mcp-proxy', 'ingest'];
const SECRET_NAME = /TOKEN|KEY|PASSWORD|SECRET|DATABASE_URL|CREDENTIAL/;

describe.each([
  ['base', 'base'],
  ['production', 'overlays/production'],
  ['nats-users', 'overlays/nats-users'],
  ['nats-credentials', 'overlays/nats-credentials'],
])('deploy/kubernetes %s', (name, path) => {
  const objects = render(path);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');

  it('renders objects that all validate against the Kubernetes API schemas', async () => {
    expect(objects.length).toBeGreaterThan(10);
    expect(await schemaErrors(objects)).toEqual([]);
  });

  it('runs every service non-root on a read-only root filesystem, without capabilities, with resources', () => {
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(
      ['dashboard', 'gateway', 'healer', 'ingest', 'mcp-proxy', 'sentinel'].map((s) => `immune-${s}`),
    );
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext, workload.metadata.name).toMatchObject({ runAsNonRoot: true });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers) {
        const where = `${workload.metadata.name}/${container.name}`;
        expect(container.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources?.requests, where).toMatchObject({
          cpu: expect.anything(),
          memory: expect.anything(),
        });
        expect(container.resources?.limits?.memory, where).toBeDefined();
        expect(container.readinessProbe?.httpGet?.path, where).toBe('/readyz');
        expect(container.livenessProbe?.httpGet?.path, where).toBe('/healthz');
        // Secrets by reference only: a secret-looking variable never carries a literal value.
        for (const env of container.env ?? []) {
          if (SECRET_NAME.test(env.name))
            expect(env.valueFrom?.secretKeyRef, `${where} ${env.name}`).toBeDefined();
        }
      }
    }
    expect(byKind('Secret')).toEqual([]);
  });

  it('gives the sentinel StatefulSet partitions from the ordinal, its replica count copied in', () => {
    const [sentinel] = byKind('StatefulSet');
    expect(sentinel?.metadata.name).toBe('immune-sentinel');
    const env = Object.fromEntries(
      sentinel!.spec.template.spec.containers[0].env.map(
        (e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom],
      ),
    );
    expect(env.SENTINEL_PARTITIONS).toBe('ordinal');
    expect(env.SENTINEL_INSTANCE_ID).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(Number(env.SENTINEL_REPLICAS)).toBe(sentinel!.spec.replicas);
    const config = byKind('ConfigMap').find((c) => c.metadata.name.startsWith('immune-config'));
    expect(sentinel!.spec.replicas).toBeLessThanOrEqual(Number(config?.data?.IMMUNE_PARTITIONS));
  });

  it('autoscales gateway, MCP proxy and ingest and bounds their disruptions', () => {
    const deployments = new Map(byKind('Deployment').map((d) => [d.metadata.name, d]));
    for (const service of SCALED) {
      const hpa = byKind('HorizontalPodAutoscaler').find((h) => h.metadata.name === `immune-${service}`);
      expect(hpa?.spec.scaleTargetRef, service).toMatchObject({
        kind: 'Deployment',
        name: `immune-${service}`,
      });
      expect(hpa!.spec.minReplicas).toBeGreaterThanOrEqual(2);
      const pdb = byKind('PodDisruptionBudget').find((p) => p.metadata.name === `immune-${service}`);
      const podLabels = deployments.get(`immune-${service}`)!.spec.template.metadata.labels;
      expect(podLabels, service).toMatchObject(pdb!.spec.selector.matchLabels);
    }
  });

  it('denies ingress by default and opens only what is meant to be reached', () => {
    const policies = byKind('NetworkPolicy');
    // A policy with no ingress rules over every Immune pod: whatever the others do not allow is refused.
    const deny = policies.find(
      (p) => p.spec.policyTypes?.includes('Ingress') && p.spec.ingress === undefined,
    );
    expect(deny?.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/part-of': 'immune' });
    for (const workload of workloads)
      expect(workload.spec.template.metadata.labels).toMatchObject(deny!.spec.podSelector.matchLabels);
    expect(policies.length).toBeGreaterThan(1);
  });

  it(`has a ServiceMonitor only with the servicemonitor component (${name})`, () => {
    expect(byKind('ServiceMonitor')).toHaveLength(name === 'production' ? 1 : 0);
  });
});

describe('NATS authentication components', () => {
  const containerEnv = (objects: K8sObject[]) =>
    new Map(
      objects
        .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
        .map((w) => [
          w.metadata.name.replace(/^immune-/, ''),
          w.spec.template.spec.containers[0].env as Array<{
            name: string;
            value?: string;
            valueFrom?: unknown;
          }>,
        ]),
    );

  it('nats-users: each service is its own NATS user, its password by reference, the permissions beside', () => {
    const objects = render('overlays/nats-users');
    for (const [service, env] of containerEnv(objects)) {
      expect(env.find((e) => e.name === 'NATS_USER')?.value, service).toBe(service);
      expect(env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom, service).toEqual({
        secretKeyRef: { name: 'immune-nats-users', key: service },
      });
    }
    const permissions = objects.find((o) => o.metadata.name.startsWith('immune-nats-permissions'));
    const shipped = readFileSync(join(kustomizeDir, 'components/nats-users/immune-permissions.conf'), 'utf8');
    expect(permissions?.data?.['immune-permissions.conf']).toBe(shipped);
  });

  it.each(['overlays/nats-credentials', 'overlays/production'])(
    'nats-credentials (%s): each service reads its own .creds file from the mounted Secret',
    (path) => {
      const objects = render(path);
      for (const [service, env] of containerEnv(objects)) {
        expect(env.find((e) => e.name === 'NATS_CREDS_FILE')?.value, service).toBe(
          `/etc/immune/nats/${service}.creds`,
        );
        expect(
          env.find((e) => e.name === 'NATS_USER'),
          service,
        ).toBeUndefined();
      }
    },
  );
});

describe('the schema validation', () => {
  it('refuses an object the Kubernetes API would refuse', async () => {
    const broken: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: { replicas: 'two', selector: {}, template: { spec: { containers: [{ name: 'x' }] } } },
    };
    expect((await schemaErrors([broken]))[0]).toMatch(/replicas/);
  });
});
