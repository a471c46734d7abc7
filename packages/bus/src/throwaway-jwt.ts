import { createHash } from 'node:crypto';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';

/**
 * A throwaway NATS operator, account and user as JWTs (what `nsc` would make), for testing `.creds`
 * authentication against a real nats-server in operator mode with a memory resolver. Tests only.
 */
export interface ThrowawayJwtAuth {
  /** nats-server configuration: the operator, the memory resolver preloaded with the account. */
  serverConfig: string;
  /** A `.creds` file's text for the user. */
  creds: string;
  /** The same user under an account the server does not know: refused. */
  strangerCreds: string;
}

const B64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

function sign(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = B64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  // jti: a hash of the claims, as the reference implementation does (the server only needs it unique).
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const body = B64(JSON.stringify(claims));
  const signature = issuer.sign(new TextEncoder().encode(`${header}.${body}`));
  return `${header}.${body}.${B64(signature)}`;
}

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

function credsFile(userJwt: string, user: KeyPair): string {
  const seed = new TextDecoder().decode(user.getSeed());
  return [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}

export function createThrowawayJwtAuth(): ThrowawayJwtAuth {
  const operator = createOperator();
  const account = createAccount();
  const stranger = createAccount();
  // JetStream in operator mode needs a system account.
  const system = createAccount();
  const operatorJwt = sign(operator, operator.getPublicKey(), 'test-operator', {
    type: 'operator',
    system_account: system.getPublicKey(),
  });
  const systemJwt = sign(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: { conn: -1 } });
  const accountJwt = sign(operator, account.getPublicKey(), 'test-account', {
    type: 'account',
    limits: UNLIMITED,
  });
  const user = createUser();
  const userJwt = sign(account, user.getPublicKey(), 'test-user', {
    type: 'user',
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  const strangerUser = createUser();
  const strangerJwt = sign(stranger, strangerUser.getPublicKey(), 'stranger', {
    type: 'user',
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  return {
    serverConfig: [
      `operator: "${operatorJwt}"`,
      'resolver: MEMORY',
      `system_account: ${system.getPublicKey()}`,
      `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }`,
    ].join('\n'),
    creds: credsFile(userJwt, user),
    strangerCreds: credsFile(strangerJwt, strangerUser),
  };
}
