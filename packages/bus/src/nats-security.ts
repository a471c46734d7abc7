import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from '@nats-io/transport-node';
import type { BusConfig } from './bus-env.js';
import { BusConfigError } from './errors.js';

/** How a connection authenticates, named in errors and logs (never the secret itself). */
export type NatsAuthMethod = 'none' | 'user/password' | 'token' | 'nkey' | 'creds';

/** The security part of a NATS connection, built from `BusEnv` by `natsSecurity`. */
export interface NatsSecurity {
  method: NatsAuthMethod;
  authenticator?: Authenticator;
  /** Set when TLS is required: a `tls://` URL or any NATS_TLS_* file. */
  tls?: TlsOptions;
}

type SecurityConfig = Pick<
  BusConfig,
  | 'NATS_URL'
  | 'NATS_USER'
  | 'NATS_PASSWORD'
  | 'NATS_TOKEN'
  | 'NATS_NKEY_SEED_FILE'
  | 'NATS_CREDS_FILE'
  | 'NATS_TLS_CA_FILE'
  | 'NATS_TLS_CERT_FILE'
  | 'NATS_TLS_KEY_FILE'
>;

const SECURITY_VARIABLES = [
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_NKEY_SEED_FILE',
  'NATS_CREDS_FILE',
  'NATS_TLS_CA_FILE',
  'NATS_TLS_CERT_FILE',
  'NATS_TLS_KEY_FILE',
] as const;

/**
 * Turns the NATS_* security variables into connection options, or throws a `BusConfigError` naming the
 * variables at fault (never their values). Files are read here, once, so a missing or unreadable file stops
 * the service at start rather than at its first reconnect. Rules: at most one authentication method; user and
 * password together; certificate and key together; no security setting without NATS_URL (the embedded bus
 * would silently ignore it, and an operator who set credentials expects them to be used).
 */
export function natsSecurity(config: SecurityConfig): NatsSecurity {
  const set = SECURITY_VARIABLES.filter((name) => config[name] !== undefined);
  if (!config.NATS_URL) {
    if (set.length > 0) {
      throw new BusConfigError(
        `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but NATS_URL is not`,
      );
    }
    return { method: 'none' };
  }
  const methods: Array<[NatsAuthMethod, boolean]> = [
    ['user/password', config.NATS_USER !== undefined || config.NATS_PASSWORD !== undefined],
    ['token', config.NATS_TOKEN !== undefined],
    ['nkey', config.NATS_NKEY_SEED_FILE !== undefined],
    ['creds', config.NATS_CREDS_FILE !== undefined],
  ];
  const chosen = methods.filter(([, on]) => on).map(([method]) => method);
  if (chosen.length > 1) {
    throw new BusConfigError(`set one NATS authentication method, not ${chosen.join(' and ')}`);
  }
  const security: NatsSecurity = { method: chosen[0] ?? 'none' };
  if (security.method === 'user/password') {
    if (config.NATS_USER === undefined) throw new BusConfigError('NATS_PASSWORD is set without NATS_USER');
    if (config.NATS_PASSWORD === undefined)
      throw new BusConfigError('NATS_USER is set without NATS_PASSWORD');
    security.authenticator = usernamePasswordAuthenticator(config.NATS_USER, config.NATS_PASSWORD);
  } else if (security.method === 'token') {
    security.authenticator = tokenAuthenticator(config.NATS_TOKEN as string);
  } else if (security.method === 'nkey') {
    const seed = readSecretFile('NATS_NKEY_SEED_FILE', config.NATS_NKEY_SEED_FILE as string).trim();
    if (!/^SU[A-Z2-7]+$/.test(seed)) {
      throw new BusConfigError(
        'NATS_NKEY_SEED_FILE does not hold a user NKey seed (one line starting with SU)',
      );
    }
    security.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  } else if (security.method === 'creds') {
    const creds = readSecretFile('NATS_CREDS_FILE', config.NATS_CREDS_FILE as string);
    if (!creds.includes('BEGIN NATS USER JWT') || !creds.includes('BEGIN USER NKEY SEED')) {
      throw new BusConfigError('NATS_CREDS_FILE is not a .creds file (a user JWT and an NKey seed)');
    }
    security.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }

  if ((config.NATS_TLS_CERT_FILE === undefined) !== (config.NATS_TLS_KEY_FILE === undefined)) {
    throw new BusConfigError('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together (mutual TLS needs both)');
  }
  const tlsUrl = config.NATS_URL.split(',').some((url) => /^\s*tls:\/\//i.test(url));
  const tlsFiles = config.NATS_TLS_CA_FILE ?? config.NATS_TLS_CERT_FILE;
  if (tlsUrl || tlsFiles !== undefined) {
    const tls: TlsOptions = {};
    // Read here rather than handing the paths to the client, which would read them at every reconnect and
    // report a missing file as a connection failure.
    if (config.NATS_TLS_CA_FILE) tls.ca = readSecretFile('NATS_TLS_CA_FILE', config.NATS_TLS_CA_FILE);
    if (config.NATS_TLS_CERT_FILE && config.NATS_TLS_KEY_FILE) {
      tls.cert = readSecretFile('NATS_TLS_CERT_FILE', config.NATS_TLS_CERT_FILE);
      tls.key = readSecretFile('NATS_TLS_KEY_FILE', config.NATS_TLS_KEY_FILE);
    }
    security.tls = tls;
  }
  return security;
}

function readSecretFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BusConfigError(`${variable} names ${path}, which cannot be read (${code})`);
  }
}
