import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '@immune/bus/testing';
import { afterAll, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// By absolute URL: `--import tsx` resolves from the working directory, which is a temp folder here.
const TSX = new URL('../../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The real service, single-process default (embedded bus, PGlite in a temp folder), as an operator runs it. */
function start(cwd: string, port: number): { child: ChildProcess; stdout: () => string } {
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', TSX, MAIN], {
    cwd,
    env: {
      PATH: process.env.PATH,
      INGEST_PORT: String(port),
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
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
  return { child, stdout: () => out };
}

it('creates a key at first start, prints it once outside the JSON log, accepts it, and stops cleanly', async () => {
  dir = await mkdtemp(join(tmpdir(), 'immune-ingest-'));
  const port = await freePort();
  const first = start(dir, port);
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), 90_000, 200);
  const key = /^ {4}(imk_\S+)$/m.exec(first.stdout())?.[1];
  expect(key).toBeDefined();
  const jsonLines = first
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'));
  expect(jsonLines.length).toBeGreaterThan(0);
  expect(jsonLines.some((line) => line.includes(key!))).toBe(false);
  expect(jsonLines.some((line) => line.includes('api-key-created'))).toBe(true);

  const accepted = await fetch(`${base}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'x-api-key': key!, 'content-type': 'application/json' },
    body: JSON.stringify({
      agent_id: 'smoke',
      kind: 'task',
      latency_ms: 5,
      input_tokens: 1,
      output_tokens: 1,
      success: true,
    }),
  });
  expect(accepted.status).toBe(202);
  expect((await fetch(`${base}/metrics`)).status).toBe(200);

  first.child.kill('SIGTERM');
  const [code] = await once(first.child, 'exit');
  expect(code).toBe(0);

  // Second start on the same data: the key still works and no new one is printed.
  const second = start(dir, port);
  await eventually(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), 90_000, 200);
  expect(second.stdout()).not.toContain('imk_');
  const again = await fetch(`${base}/api/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify([
      { agent_id: 'smoke', kind: 'task', latency_ms: 5, input_tokens: 1, output_tokens: 1, success: true },
    ]),
  });
  expect(again.status).toBe(202);
  second.child.kill('SIGTERM');
  const [code2] = await once(second.child, 'exit');
  expect(code2).toBe(0);
}, 240_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
