import Type, { type Static } from 'typebox';
import { DEFAULT_PARTITIONS, DEFAULT_PREFIX } from './subjects.js';

/**
 * The bus settings of every service, as env-schema properties: a service spreads them into its own
 * `Type.Object({...})` and hands the loaded config to `openBusFromEnv`. This is the only place they are
 * defined; connection security (credentials, TLS) belongs here too. Secrets are marked `{ secret: true }`,
 * which `@immune/runtime`'s config loader keeps out of errors and logs.
 */
export const BusEnv = {
  /** Unset: the embedded in-process bus (single-process mode). */
  NATS_URL: Type.Optional(Type.String({ format: 'uri' })),
  /** First token of every subject, stream and bucket name, so several deployments can share one cluster. */
  IMMUNE_SUBJECT_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: DEFAULT_PREFIX }),
  /** Vitals partitions: fixed per deployment (changing it moves agents to other sentinels). */
  IMMUNE_PARTITIONS: Type.Integer({ minimum: 1, maximum: 1024, default: DEFAULT_PARTITIONS }),
};

const BusEnvSchema = Type.Object(BusEnv);
/** What `openBusFromEnv` reads of a service's validated config. */
export type BusConfig = Static<typeof BusEnvSchema>;
