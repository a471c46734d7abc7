/**
 * Validation of rendered objects against the Kubernetes API's OpenAPI schemas (kubernetes-models, and the
 * prometheus-operator models for the ServiceMonitor), for the kustomize renders and the Helm chart's alike.
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, inspected loosely and validated by the schemas
  spec?: any;
  data?: Record<string, string>;
}

/** The schema model of an object's kind; throws when there is none (an unknown kind or version). */
async function modelOf(object: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : ['', object.apiVersion];
  const module =
    group === 'monitoring.coreos.com'
      ? await import(`@kubernetes-models/prometheus-operator/${group}/${version}/${object.kind}`)
      : await import(`kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${object.kind}`);
  return module[object.kind];
}

/** One line per object the schemas refuse (or whose kind has no schema); empty when all are valid. */
export async function schemaErrors(objects: readonly K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const object of objects) {
    try {
      const Model = await modelOf(object);
      new Model(object).validate();
    } catch (error) {
      errors.push(`${object.kind}/${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  return errors;
}
