import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectNatsBus, HEALER_APPROVALS } from '@immune/bus';
import { eventually, freePort, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { hashOperatorToken, mintOperatorToken } from '@immune/runtime';
import { randomSchemaName, resolveTestDatabaseUrl } from '@immune/store/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

const viewer = mintOperatorToken();
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('the healer process', { timeout: 120_000 }, () => {
  it('serves health, readiness and metrics, answers commands, and exits 0 on SIGTERM', async () => {
    const natsUrl = await natsUrlForTests();
    const databaseUrl = await resolveTestDatabaseUrl();
    const prefix = uniquePrefix('healer_main');
    const schema = randomSchemaName();
    const url = new URL(databaseUrl);
    url.searchParams.set('options', `-c search_path=${schema},public`);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    const port = await freePort();
    const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', MAIN], {
      env: {
        ...process.env,
        NATS_URL: natsUrl,
        DATABASE_URL: url.toString(),
        IMMUNE_SUBJECT_PREFIX: prefix,
        IMMUNE_OPERATOR_TOKENS: `ops-tv:viewer:${hashOperatorToken(viewer)}`,
        HEALER_PORT: String(port),
        HOST: '127.0.0.1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        HEALER_WEBHOOK_SECRET: 'never-printed-secret-value',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const bus = await connectNatsBus({ url: natsUrl, prefix });
    try {
      await eventually(
        async () => {
          const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
          expect(ready.status).toBe(200);
        },
        60_000,
        200,
      );
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('# ');
      expect(await bus.request(HEALER_APPROVALS, {}, { operatorToken: viewer })).toEqual({ approvals: [] });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('bus-drained');
      expect(output).not.toContain('never-printed-secret-value');
    } catch (error) {
      // The child's own account of why it never got ready is what makes such a failure readable.
      throw new Error(`${String(error)}\n--- healer output ---\n${output.slice(-4_000)}`, { cause: error });
    } finally {
      child.kill('SIGKILL');
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    }
  });
});
