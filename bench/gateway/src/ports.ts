import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A port free right now on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Portkey's server entry, started as its README says (`node build/start-server.js`). */
export const PORTKEY_ENTRY = join(
  dirname(fileURLToPath(import.meta.resolve('@portkey-ai/gateway/package.json'))),
  'build/start-server.js',
);
