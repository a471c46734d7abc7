import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { MockUpstream } from '@immune/mock-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness.js';

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPLICAS = 3;
const BUDGET = 20_000;
const RPM = 60;
/** docs/gateway.md: each replica may overshoot by one lease share (2 % of the limit), plus calls in flight. */
const share = (limit: number) => Math.max(1, Math.ceil(limit * 0.02));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Three real gateway processes on real NATS, one shared budget and one shared rate limit: the fleet spends
 * what the operator set, not three times that.
 */
describe('limits that hold across 3 gateway replicas', () => {
  let mock: MockUpstream;
  let natsUrl: string;
  const prefix = uniquePrefix('fleet');
  const children: ChildProcess[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    mock = await MockUpstream.start({ record: 0 });
    natsUrl = await natsUrlForTests();
    const policies = [
      // A window of 31 days aligned to the epoch: no window ends during the test.
      {
        id: 'fleet-budget',
        scope: { kind: 'agent', agent_id: 'spender' },
        rules: { token_budget: { tokens: BUDGET, window_ms: 31 * 24 * 3_600_000 } },
        source: 'config',
      },
      {
        id: 'fleet-rpm',
        scope: { kind: 'agent', agent_id: 'caller' },
        rules: { requests_per_minute: RPM },
        source: 'config',
      },
    ];
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        ['--conditions=@immune/source', '--import', 'tsx', 'src/main.ts'],
        {
          cwd: APP,
          env: {
            ...process.env,
            GATEWAY_PORT: String(port),
            HOST: '127.0.0.1',
            LOG_LEVEL: 'warn',
            LOG_FORMAT: 'json',
            NATS_URL: natsUrl,
            IMMUNE_SUBJECT_PREFIX: prefix,
            LLM_UPSTREAM_URL: `${mock.url}/v1`,
            GATEWAY_POLICIES: JSON.stringify(policies),
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      children.push(child);
      urls.push(`http://127.0.0.1:${port}`);
    }
    const deadline = Date.now() + 90_000;
    for (const url of urls) {
      for (;;) {
        const status = await fetch(`${url}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        if (Date.now() > deadline) throw new Error(`gateway ${url} was not ready within 90 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await mock?.close();
    if (natsUrl) await removeTopology(natsUrl, prefix);
  });

  const call = async (url: string, agent: string, words = 200) => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk', 'x-immune-agent': agent },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'word '.repeat(words) }],
      }),
    });
    const body = (await response.json()) as { usage?: { total_tokens: number }; error?: { code: string } };
    return { status: response.status, tokens: body.usage?.total_tokens ?? 0, code: body.error?.code };
  };

  it('a token budget: the three replicas together stop at the budget, within the stated overshoot', async () => {
    let served = 0;
    const refusedBy = new Set<string>();
    // Three calls in flight at a time, one per replica, until every replica refuses.
    for (let round = 0; round < 1_000 && refusedBy.size < REPLICAS; round++) {
      const results = await Promise.all(urls.map((url) => call(url, 'spender')));
      results.forEach((result, i) => {
        if (result.status === 200) served += result.tokens;
        else if (result.code === 'token_budget_exhausted') refusedBy.add(urls[i]!);
        else throw new Error(`unexpected ${result.status} ${result.code}`);
      });
    }
    const perCall = (await call(urls[0]!, 'measure-only')).tokens;
    const bound = REPLICAS * share(BUDGET) + REPLICAS * perCall;
    console.log(
      `fleet budget ${BUDGET} tokens: served ${served} (overshoot ${served - BUDGET}, ${(((served - BUDGET) / BUDGET) * 100).toFixed(1)} %; bound ${bound})`,
    );
    expect(refusedBy.size).toBe(REPLICAS);
    expect(served).toBeGreaterThanOrEqual(BUDGET);
    expect(served - BUDGET).toBeLessThanOrEqual(bound);
  }, 120_000);

  it('a rate limit: requests per minute across the fleet, not per replica', async () => {
    // Fixed one-minute windows: start early in a minute so that one window holds the whole test.
    await waitFor(() => new Date().getSeconds() < 30, 'the first half of a minute', 40_000);
    let ok = 0;
    for (let round = 0; round < 40; round++) {
      const results = await Promise.all(urls.map((url) => call(url, 'caller', 5)));
      for (const result of results) if (result.status === 200) ok++;
    }
    console.log(`fleet rate limit ${RPM}/min: ${ok} of ${40 * REPLICAS} requests admitted`);
    expect(ok).toBeGreaterThanOrEqual(RPM);
    expect(ok).toBeLessThanOrEqual(RPM + REPLICAS * share(RPM));
  }, 90_000);
});
