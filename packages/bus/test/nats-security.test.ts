import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../src/bus.js';
import type { BusConfig } from '../src/bus-env.js';
import { BusAuthError, BusConfigError } from '../src/errors.js';
import { QUARANTINE_BUCKET } from '../src/messages.js';
import { natsSecurity } from '../src/nats-security.js';
import { openBusFromEnv } from '../src/open-bus.js';
import { OwnNatsServer } from '../src/own-nats-server.js';
import { createThrowawayJwtAuth } from '../src/throwaway-jwt.js';
import { createThrowawayPki, type ThrowawayPki } from '../src/throwaway-pki.js';

// Connection security against real nats-servers of the test's own: TLS with a throwaway CA (mutual TLS),
// user/password, NKey, token and `.creds` (operator mode). Each right setting must carry real bus traffic;
// each wrong one must stop `openBusFromEnv` with a BusAuthError that names the problem and no secret.

const PASSWORD = 'pw-0a9f1c3e77d24b5e';
const TOKEN = 'tok-5b0d2e8c91aa4f36';
const base = { IMMUNE_SUBJECT_PREFIX: 'sec', IMMUNE_PARTITIONS: 2 } as const;

let pki: ThrowawayPki;
let tlsServer: OwnNatsServer;
let tokenServer: OwnNatsServer;
let jwtServer: OwnNatsServer;
const nkeyUser = createUser();
const jwt = createThrowawayJwtAuth();
const file = (name: string, text: string) => {
  const path = join(pki.dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};

beforeAll(async () => {
  pki = createThrowawayPki();
  tlsServer = await OwnNatsServer.start({
    config: `
tls { cert_file: "${pki.serverCertFile}", key_file: "${pki.serverKeyFile}", ca_file: "${pki.caFile}", verify: true }
authorization {
  users = [
    { user: "svc", password: "${PASSWORD}" }
    { nkey: "${nkeyUser.getPublicKey()}" }
  ]
}`,
  });
  tokenServer = await OwnNatsServer.start({ config: `authorization { token: "${TOKEN}" }` });
  jwtServer = await OwnNatsServer.start({ config: jwt.serverConfig });
}, 60_000);

afterAll(async () => {
  await Promise.all([tlsServer?.stop(), tokenServer?.stop(), jwtServer?.stop()]);
  pki?.remove();
});

const opened: Bus[] = [];
afterEach(async () => {
  for (const bus of opened.splice(0)) await bus.drain().catch(() => undefined);
});

async function open(config: Partial<BusConfig>): Promise<Bus> {
  const bus = await openBusFromEnv({ ...base, ...config } as BusConfig, 'security-test');
  opened.push(bus);
  return bus;
}

/** Real traffic: a stream publish and a KV round trip, both through JetStream. */
async function roundTrip(bus: Bus): Promise<void> {
  await bus.publishEvent('agent.discovered', 'a-1', {
    agent_id: 'a-1',
    source: 'gateway',
    identity: 'header',
  });
  const kv = await bus.kv(QUARANTINE_BUCKET);
  await kv.put('a-1', { agent_id: 'a-1', state: 'QUARANTINED', reason: 'test', since: 1, by: 'operator' });
  expect((await kv.get('a-1'))?.reason).toBe('test');
}

async function refusal(config: Partial<BusConfig>): Promise<Error> {
  const error = await open(config).then(
    () => new Error('connected, but it should have been refused'),
    (e: unknown) => e as Error,
  );
  return error;
}

function mtls(): Partial<BusConfig> {
  return {
    NATS_URL: tlsServer.tlsUrl,
    NATS_TLS_CA_FILE: pki.caFile,
    NATS_TLS_CERT_FILE: pki.clientCertFile,
    NATS_TLS_KEY_FILE: pki.clientKeyFile,
  };
}

describe('NATS connection security (real nats-server)', () => {
  it('mutual TLS + user/password: carries stream and KV traffic', async () => {
    await roundTrip(await open({ ...mtls(), NATS_USER: 'svc', NATS_PASSWORD: PASSWORD }));
  });

  it('mutual TLS + NKey seed file: carries traffic', async () => {
    const seedFile = file('user.nk', `${new TextDecoder().decode(nkeyUser.getSeed())}\n`);
    await roundTrip(await open({ ...mtls(), NATS_NKEY_SEED_FILE: seedFile }));
  });

  it('a wrong password fails fast with the method named and no secret in the message', async () => {
    const error = await refusal({ ...mtls(), NATS_USER: 'svc', NATS_PASSWORD: 'wrong-password-123' });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain("refused this service's user/password credentials");
    expect(error.message).toContain('127.0.0.1');
    expect(error.message).not.toContain('wrong-password-123');
    expect(error.message).not.toContain(PASSWORD);
  });

  it('an NKey the server does not know is refused', async () => {
    const seedFile = file('stranger.nk', new TextDecoder().decode(createUser().getSeed()));
    const error = await refusal({ ...mtls(), NATS_NKEY_SEED_FILE: seedFile });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain("refused this service's nkey credentials");
  });

  it('no credentials at all: says that the server requires them and which variables to set', async () => {
    const error = await refusal(mtls());
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toMatch(/requires authentication.*NATS_USER/);
  });

  it('a CA that did not sign the server certificate fails the TLS handshake, named as such', async () => {
    const error = await refusal({
      ...mtls(),
      NATS_TLS_CA_FILE: pki.otherCaFile,
      NATS_USER: 'svc',
      NATS_PASSWORD: PASSWORD,
    });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain('TLS failed');
    expect(error.message).not.toContain(PASSWORD);
  });

  it('without a client certificate the server (verify: true) refuses the connection', async () => {
    const error = await refusal({
      NATS_URL: tlsServer.tlsUrl,
      NATS_TLS_CA_FILE: pki.caFile,
      NATS_USER: 'svc',
      NATS_PASSWORD: PASSWORD,
    });
    expect(error.message).toMatch(/^bus: cannot connect.*set NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE/);
    expect(error.message).not.toContain(PASSWORD);
  }, 30_000);

  it('a tls:// URL refuses a server that offers no TLS', async () => {
    const error = await refusal({ NATS_URL: tokenServer.tlsUrl, NATS_TOKEN: TOKEN });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain('TLS failed');
    expect(error.message).not.toContain(TOKEN);
  });

  it('token: the right one carries traffic, a wrong one is refused without being echoed', async () => {
    await roundTrip(await open({ NATS_URL: tokenServer.url, NATS_TOKEN: TOKEN }));
    const error = await refusal({ NATS_URL: tokenServer.url, NATS_TOKEN: 'tok-not-the-right-one' });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain("refused this service's token credentials");
    expect(error.message).not.toContain('tok-not-the-right-one');
  });

  it('.creds file (operator mode, JWT): the right user carries traffic, a foreign account is refused', async () => {
    await roundTrip(await open({ NATS_URL: jwtServer.url, NATS_CREDS_FILE: file('ok.creds', jwt.creds) }));
    const error = await refusal({
      NATS_URL: jwtServer.url,
      NATS_CREDS_FILE: file('stranger.creds', jwt.strangerCreds),
    });
    expect(error).toBeInstanceOf(BusAuthError);
    expect(error.message).toContain("refused this service's creds credentials");
  });
});

describe('natsSecurity: contradictory or incomplete settings stop the service, naming variables only', () => {
  const url = 'nats://127.0.0.1:4222';
  const cases: Array<[string, Partial<BusConfig>, RegExp]> = [
    ['user without password', { NATS_URL: url, NATS_USER: 'u' }, /NATS_USER is set without NATS_PASSWORD/],
    ['password without user', { NATS_URL: url, NATS_PASSWORD: 'p-secret' }, /NATS_PASSWORD is set without/],
    [
      'two methods',
      { NATS_URL: url, NATS_TOKEN: 't-secret', NATS_CREDS_FILE: '/x' },
      /one NATS authentication method, not token and creds/,
    ],
    ['certificate without key', { NATS_URL: url, NATS_TLS_CERT_FILE: '/c' }, /go together/],
    ['credentials without NATS_URL', { NATS_TOKEN: 't-secret' }, /NATS_TOKEN is set but NATS_URL is not/],
    [
      'an unreadable file',
      { NATS_URL: url, NATS_CREDS_FILE: '/nonexistent/immune.creds' },
      /NATS_CREDS_FILE names \/nonexistent\/immune.creds, which cannot be read \(ENOENT\)/,
    ],
  ];
  it.each(cases)('%s', (_name, config, expected) => {
    let thrown: unknown;
    try {
      natsSecurity({ ...base, ...config });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BusConfigError);
    expect((thrown as Error).message).toMatch(expected);
    expect((thrown as Error).message).not.toContain('secret');
  });

  it('a seed file that holds no user seed, and a creds file that is not one, are named', () => {
    const dir = createThrowawayPki();
    try {
      const junk = join(dir.dir, 'junk');
      writeFileSync(junk, 'not a key');
      expect(() => natsSecurity({ ...base, NATS_URL: url, NATS_NKEY_SEED_FILE: junk })).toThrow(
        /does not hold a user NKey seed/,
      );
      expect(() => natsSecurity({ ...base, NATS_URL: url, NATS_CREDS_FILE: junk })).toThrow(
        /is not a .creds file/,
      );
    } finally {
      dir.remove();
    }
  });

  it('tls:// or a TLS file requires TLS; plain nats:// without files leaves it to the server', () => {
    expect(natsSecurity({ ...base, NATS_URL: url }).tls).toBeUndefined();
    expect(natsSecurity({ ...base, NATS_URL: 'tls://127.0.0.1:4222' }).tls).toEqual({});
  });
});
