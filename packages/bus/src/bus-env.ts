import Type, { type Static } from 'typebox';
import { DEFAULT_PARTITIONS, DEFAULT_PREFIX } from './subjects.js';

/**
 * The bus settings of every service, as env-schema properties: a service spreads them into its own
 * `Type.Object({...})` and hands the loaded config to `openBusFromEnv`. This is the only place they are
 * defined, connection security (credentials, TLS) included; `nats-security.ts` turns them into connection
 * options. Secrets are marked `{ secret: true }`, which `@immune/runtime`'s config loader keeps out of errors
 * and logs. Files are named by path (not inlined) so Kubernetes and compose can mount them from a Secret.
 *
 * At most one way of authenticating is set: user + password, token, NKey seed file or `.creds` file. The
 * combination rules are checked when the bus opens (`natsSecurity`), so a service with a contradictory or
 * incomplete setting stops at start instead of connecting anonymously.
 */
export const BusEnv = {
  /**
   * Unset: the embedded in-process bus (single-process mode). `nats://host:port` or `tls://host:port` (TLS
   * required; the connection fails when the server does not offer it), several separated by commas.
   */
  NATS_URL: Type.Optional(
    Type.String({
      format: 'uri',
      description: 'nats:// or tls:// URL(s), comma-separated; unset = embedded bus',
    }),
  ),
  /** First token of every subject, stream and bucket name, so several deployments can share one cluster. */
  IMMUNE_SUBJECT_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: DEFAULT_PREFIX }),
  /** Vitals partitions: fixed per deployment (changing it moves agents to other sentinels). */
  IMMUNE_PARTITIONS: Type.Integer({ minimum: 1, maximum: 1024, default: DEFAULT_PARTITIONS }),
  /** User name for NATS user/password authentication; needs NATS_PASSWORD. */
  NATS_USER: Type.Optional(Type.String({ minLength: 1, description: 'NATS user (with NATS_PASSWORD)' })),
  /** Password of NATS_USER. */
  NATS_PASSWORD: Type.Optional(
    Type.String({ minLength: 1, secret: true, description: 'password of NATS_USER' }),
  ),
  /** Token authentication (`authorization { token: ... }` on the server). */
  NATS_TOKEN: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'NATS token' })),
  /** Path of a file holding an NKey seed (`SU...`): NKey authentication, the seed never leaves the file. */
  NATS_NKEY_SEED_FILE: Type.Optional(Type.String({ minLength: 1, description: 'path of an NKey seed file' })),
  /** Path of a `.creds` file (user JWT + NKey seed, as `nsc generate creds` writes it): decentralized auth. */
  NATS_CREDS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'path of a NATS .creds file' })),
  /** PEM CA bundle that signed the server's certificate; setting it requires TLS. */
  NATS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA file; implies TLS' })),
  /** PEM client certificate for mutual TLS (with NATS_TLS_KEY_FILE); setting it requires TLS. */
  NATS_TLS_CERT_FILE: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM client certificate (mTLS); implies TLS' }),
  ),
  /** PEM private key of NATS_TLS_CERT_FILE. */
  NATS_TLS_KEY_FILE: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM key of NATS_TLS_CERT_FILE' }),
  ),
};

const BusEnvSchema = Type.Object(BusEnv);
/** What `openBusFromEnv` reads of a service's validated config. */
export type BusConfig = Static<typeof BusEnvSchema>;
