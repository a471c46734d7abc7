import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a throwaway certificate authority, a server certificate for 127.0.0.1 and a client one. */
export interface ThrowawayPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A second CA that signed nothing here: trusting it must fail the handshake. */
  otherCaFile: string;
  remove(): void;
}

const OPENSSL = process.env.OPENSSL_BIN ?? '/usr/bin/openssl';

/**
 * Makes a CA, a server certificate (SAN IP:127.0.0.1 and DNS:localhost) and a client certificate with the
 * real `openssl`, in a temp dir of the test's own. EC P-256 keys, so generating them is quick on a loaded
 * machine. Tests only: the keys are not protected.
 */
export function createThrowawayPki(): ThrowawayPki {
  if (!existsSync(OPENSSL)) throw new Error(`TLS tests need openssl at ${OPENSSL} (or set OPENSSL_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), 'immune-pki-'));
  const file = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync(OPENSSL, args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) =>
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file(name));
  const ca = (name: string) => {
    key(`${name}.key`);
    run(
      'req',
      '-x509',
      '-new',
      '-key',
      file(`${name}.key`),
      '-sha256',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-out',
      file(`${name}.pem`),
    );
  };
  const issue = (name: string, extensions: string) => {
    key(`${name}.key`);
    run('req', '-new', '-key', file(`${name}.key`), '-subj', `/CN=${name}`, '-out', file(`${name}.csr`));
    writeFileSync(file(`${name}.ext`), extensions);
    run(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      file(`${name}.ext`),
      '-out',
      file(`${name}.pem`),
    );
  };
  ca('ca');
  ca('other-ca');
  issue('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    otherCaFile: file('other-ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
