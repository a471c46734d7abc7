import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, OwnNatsServer, uniquePrefix } from '@immune/bus/testing';
import { afterAll, expect, it } from 'vitest';

// The real ingest process (PGlite in a temp folder, NATS of the test's own) at LOG_LEVEL=warn: readiness
// follows whether it can publish, and the outage is said once each way. And with wrong NATS credentials it
// stops at start, saying why without the password.

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const TSX = new URL('../../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function start(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output: () => string; port: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'immune-ingest-outage-'));
  dirs.push(dir);
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', TSX, MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      INGEST_PORT: String(port),
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      INGEST_API_KEY: 'imk_outage_test_key_0123456789',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return { child, output: () => out, port };
}

const events = (output: string, event: string) =>
  output.split('\n').filter((line) => line.startsWith('{') && line.includes(`"event":"${event}"`));

it('is not ready while NATS is down, and says so once at warn each way', async () => {
  const nats = await OwnNatsServer.start();
  const { child, output, port } = await start({
    NATS_URL: nats.url,
    IMMUNE_SUBJECT_PREFIX: uniquePrefix('ing'),
  });
  const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  try {
    await eventually(async () => expect(await ready()).toBe(200), 90_000, 200);
    await nats.kill();
    await eventually(async () => expect(await ready()).toBe(503), 20_000, 200);
    await eventually(() => expect(events(output(), 'dependency-down')).toHaveLength(1), 20_000, 200);
    expect(events(output(), 'dependency-down')[0]).toContain('"dependency":"nats"');
    await nats.resume();
    await eventually(async () => expect(await ready()).toBe(200), 30_000, 200);
    await eventually(() => expect(events(output(), 'dependency-up')).toHaveLength(1), 20_000, 200);
    expect(events(output(), 'dependency-down')).toHaveLength(1);
  } catch (error) {
    throw new Error(`${String(error)}\n--- ingest output ---\n${output().slice(-4_000)}`, { cause: error });
  } finally {
    child.kill('SIGKILL');
    await nats.stop();
  }
}, 180_000);

it('stops at start with wrong NATS credentials, naming the method and not the password', async () => {
  const nats = await OwnNatsServer.start({
    config: 'authorization { users = [ { user: "ingest", password: "right-password-1" } ] }',
  });
  const { child, output } = await start({
    NATS_URL: nats.url,
    NATS_USER: 'ingest',
    NATS_PASSWORD: 'wrong-password-2',
  });
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(output()).toContain("refused this service's user/password credentials");
    expect(output()).not.toContain('wrong-password-2');
  } finally {
    child.kill('SIGKILL');
    await nats.stop();
  }
}, 120_000);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
