import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bus, connectNatsBus, GATEWAY_BUCKET, gatewayKey, QUARANTINE_BUCKET } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { compileChecker } from '@immune/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentTarget,
  ContainerTarget,
  createContainerEnforcer,
  createContainerExecutor,
  createGatewayEnforcer,
  createGatewayExecutor,
  createProcessEnforcer,
  createProcessExecutor,
  createWebhookExecutor,
  curePolicyId,
  ExecutorRouter,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
} from '../src/executors/index.js';

const agent = (over: Partial<AgentTarget> = {}): AgentTarget => ({
  agent_id: 'agent-1',
  control_url: null,
  pid: null,
  model: null,
  container: null,
  simulated_cause: null,
  ...over,
});
const request = (target: AgentTarget, action: 'restart' | 'reset_memory' | 'cap_max_tokens' = 'restart') => ({
  attemptId: 'inf-1#0',
  infectionId: 'inf-1',
  agent: target,
  action,
  diagnosis: 'infinite_loop' as const,
});

/** The state letter of a Linux process: R running, S sleeping, T stopped. */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('process executor and enforcer on a real child process', () => {
  let child: ChildProcess;
  afterEach(() => {
    child.kill('SIGKILL');
  });

  it('stops and continues the process, and restarts it with SIGTERM', async () => {
    child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = child.pid!;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
    const target = agent({ pid });
    const enforcer = createProcessEnforcer();

    await enforcer.hold(target, 'quarantined');
    await eventually(async () => expect(await processState(pid)).toBe('T'));
    await enforcer.lift(target);
    await eventually(async () => expect(await processState(pid)).not.toBe('T'));

    const executor = createProcessExecutor();
    expect(executor.supports('restart', target)).toBe(true);
    expect(executor.supports('restart', agent())).toBe(false);
    expect(await executor.apply(request(target))).toMatchObject({ ok: true });
    expect(await exited).toBe('SIGTERM');
    // The process is gone: a second signal fails instead of hitting something else silently.
    expect(await executor.apply(request(target))).toMatchObject({ ok: false });
  });

  it('refuses PIDs that address process groups, init or the healer itself', async () => {
    child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const executor = createProcessExecutor();
    for (const pid of [0, 1, -5, process.pid]) {
      expect(await executor.apply(request(agent({ pid })))).toMatchObject({ ok: false, unavailable: true });
    }
  });
});

describe('webhook executor against a real HTTP server', () => {
  const secret = 'a-webhook-secret-of-32-characters';
  let server: Server;
  let url: string;
  const received: Array<{ headers: IncomingMessage['headers']; body: string; valid: boolean }> = [];
  let answers: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const ts = String(req.headers[TIMESTAMP_HEADER]);
        const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
        const valid = req.headers[SIGNATURE_HEADER] === expected;
        received.push({ headers: req.headers, body, valid });
        const status = answers.shift() ?? 200;
        if (status === 0) return; // never answers: the caller's timeout must fire
        res.writeHead(valid ? status : 401).end(valid ? 'done' : 'bad signature');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/control`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    received.length = 0;
    answers = [];
  });

  it('signs the call, sends the attempt as idempotency key, and retries 5xx', async () => {
    answers = [503, 200];
    const executor = createWebhookExecutor({ secret, timeoutMs: 2_000, retries: 2, backoffMs: 10 });
    const target = agent({ control_url: url });
    expect(executor.supports('reset_memory', target)).toBe(true);
    const result = await executor.apply(request(target, 'reset_memory'));
    expect(result).toMatchObject({ ok: true, detail: 'webhook 200: done' });
    expect(received).toHaveLength(2);
    expect(received.every((r) => r.valid)).toBe(true);
    expect(received[0]!.headers['idempotency-key']).toBe('inf-1#0');
    expect(JSON.parse(received[0]!.body)).toEqual({
      action: 'reset_memory',
      agent_id: 'agent-1',
      infection_id: 'inf-1',
      attempt_id: 'inf-1#0',
      diagnosis: 'infinite_loop',
    });
    // The secret travels only as a signature.
    expect(JSON.stringify(received)).not.toContain(secret);
  });

  it('does not retry a refusal, and gives up after its retries on silence', async () => {
    answers = [422];
    const executor = createWebhookExecutor({ secret, timeoutMs: 300, retries: 1, backoffMs: 10 });
    expect(await executor.apply(request(agent({ control_url: url })))).toMatchObject({
      ok: false,
      detail: 'webhook answered 422: done',
    });
    expect(received).toHaveLength(1);

    received.length = 0;
    answers = [0, 0];
    const silent = await executor.apply(request(agent({ control_url: url })));
    expect(silent).toMatchObject({ ok: false, detail: expect.stringMatching(/after 2 tries/) });
    expect(received).toHaveLength(2);
  });

  it('a wrong secret is caught by the agent', async () => {
    const executor = createWebhookExecutor({
      secret: 'another-secret-of-enough-length',
      timeoutMs: 1_000,
      retries: 0,
    });
    expect(await executor.apply(request(agent({ control_url: url })))).toMatchObject({ ok: false });
    expect(received[0]!.valid).toBe(false);
  });

  it('needs a control URL and a secret', () => {
    expect(createWebhookExecutor({ secret, timeoutMs: 1, retries: 0 }).supports('restart', agent())).toBe(
      false,
    );
    expect(
      createWebhookExecutor({ secret: undefined, timeoutMs: 1, retries: 0 }).supports(
        'restart',
        agent({ control_url: url }),
      ),
    ).toBe(false);
  });
});

describe('container executor with stand-in docker and kubectl on PATH', () => {
  let dir: string;
  let log: string;
  let env: NodeJS.ProcessEnv;
  const calls = async () =>
    (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'immune-bin-'));
    log = join(dir, 'argv.jsonl');
    for (const bin of ['docker', 'kubectl']) {
      const script = `#!${process.execPath}\nrequire('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify([${JSON.stringify(bin)}, ...process.argv.slice(2)]) + '\\n');\n`;
      await writeFile(join(dir, bin), script);
      await chmod(join(dir, bin), 0o755);
    }
    env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  afterEach(() => rm(log, { force: true }));

  const options = () => ({
    dockerBin: 'docker',
    kubectlBin: 'kubectl',
    dryRun: false,
    timeoutMs: 10_000,
    env,
  });

  it('restarts, pauses and unpauses a docker container with argument arrays', async () => {
    const target = agent({ container: { runtime: 'docker', name: 'agent-1' } });
    expect(await createContainerExecutor(options()).apply(request(target))).toMatchObject({ ok: true });
    const enforcer = createContainerEnforcer(options());
    await enforcer.hold(target, 'quarantined');
    await enforcer.lift(target);
    expect(await calls()).toEqual([
      ['docker', 'restart', '--', 'agent-1'],
      ['docker', 'pause', '--', 'agent-1'],
      ['docker', 'unpause', '--', 'agent-1'],
    ]);
  });

  it('rolls out a restart and scales a deployment to zero and back', async () => {
    const target = agent({
      container: { runtime: 'kubernetes', deployment: 'agent-1', namespace: 'agents', replicas: 3 },
    });
    expect(await createContainerExecutor(options()).apply(request(target))).toMatchObject({ ok: true });
    const enforcer = createContainerEnforcer(options());
    await enforcer.hold(target, 'quarantined');
    await enforcer.lift(target);
    expect(await calls()).toEqual([
      ['kubectl', '--namespace', 'agents', 'rollout', 'restart', 'deployment/agent-1'],
      ['kubectl', '--namespace', 'agents', 'scale', 'deployment/agent-1', '--replicas=0'],
      ['kubectl', '--namespace', 'agents', 'scale', 'deployment/agent-1', '--replicas=3'],
    ]);
  });

  it('only logs in dry-run mode, and reports a missing binary as a failure', async () => {
    const target = agent({ container: { runtime: 'docker', name: 'agent-1' } });
    const dry = await createContainerExecutor({ ...options(), dryRun: true }).apply(request(target));
    expect(dry).toEqual({ ok: true, detail: 'dry run: docker restart -- agent-1' });
    expect(await calls()).toEqual([]);
    const missing = await createContainerExecutor({ ...options(), dockerBin: 'no-such-docker' }).apply(
      request(target),
    );
    expect(missing).toMatchObject({ ok: false });
  });

  it('accepts no container name that could pass for an option or carry shell syntax', () => {
    const check = compileChecker(ContainerTarget);
    expect(check.check({ runtime: 'docker', name: 'agent-1' })).toBe(true);
    for (const name of ['--privileged', '-v', 'a;rm -rf /', '$(id)', 'a b', '']) {
      expect(check.check({ runtime: 'docker', name })).toBe(false);
    }
  });
});

describe('gateway executor and enforcer on real NATS', { timeout: 60_000 }, () => {
  let bus: Bus;
  let natsUrl: string;
  const prefix = uniquePrefix('healer_gw');
  beforeAll(async () => {
    natsUrl = await natsUrlForTests();
    bus = await connectNatsBus({ url: natsUrl, prefix });
  });
  afterAll(async () => {
    await bus.drain();
    await removeTopology(natsUrl, prefix);
  });

  const settings = {
    capMaxTokens: 256,
    throttleRpm: 5,
    downgradeModel: 'gpt-4o-mini',
    toolAllowlist: [],
    rerouteProvider: 'backup',
  };

  it('writes a cure as an agent-scoped policy and reverts exactly it', async () => {
    const executor = createGatewayExecutor(bus, settings);
    const kv = await bus.kv(GATEWAY_BUCKET);
    const target = agent();
    expect(await executor.apply(request(target, 'cap_max_tokens'))).toMatchObject({ ok: true });
    const key = gatewayKey.policy(curePolicyId('agent-1', 'cap_max_tokens'));
    expect(await kv.get(key)).toMatchObject({
      kind: 'policy',
      policy: { scope: { kind: 'agent', agent_id: 'agent-1' }, rules: { max_tokens: 256 }, source: 'healer' },
    });
    // Applying again writes the same entry, not a second one.
    await executor.apply(request(target, 'cap_max_tokens'));
    expect([...(await kv.entries()).keys()].filter((k) => k.startsWith('policy:healer-'))).toHaveLength(1);

    const router = new ExecutorRouter(new Map([['gateway', executor]]), {}, 5_000);
    expect(await router.revert('cap_max_tokens', target)).toBe(true);
    expect(await kv.get(key)).toBeUndefined();
    expect(await router.revert('cap_max_tokens', target)).toBe(false);
  });

  it('reroutes through a route it owns, and leaves an operator route alone', async () => {
    const executor = createGatewayExecutor(bus, settings);
    const kv = await bus.kv(GATEWAY_BUCKET);
    await executor.apply({ ...request(agent({ agent_id: 'r1' })), action: 'reroute_provider' });
    expect(await kv.get(gatewayKey.route('r1'))).toMatchObject({
      route: { openai: 'backup', source: 'healer' },
    });
    expect(await executor.revert!(agent({ agent_id: 'r1' }), 'reroute_provider')).toBe(true);
    await kv.put(gatewayKey.route('r2'), {
      kind: 'route',
      route: { agent_id: 'r2', openai: 'x', source: 'operator' },
    });
    expect(await executor.revert!(agent({ agent_id: 'r2' }), 'reroute_provider')).toBe(false);
    expect(await kv.get(gatewayKey.route('r2'))).toBeDefined();
  });

  it('enforces quarantine through the bucket without touching the sentinel entry', async () => {
    const enforcer = createGatewayEnforcer(bus);
    const kv = await bus.kv(QUARANTINE_BUCKET);
    await enforcer.hold(agent({ agent_id: 'q1' }), 'manual', 'inf-9');
    expect(await kv.get('q1')).toMatchObject({ state: 'QUARANTINED', by: 'healer', infection_id: 'inf-9' });
    await enforcer.lift(agent({ agent_id: 'q1' }));
    expect(await kv.get('q1')).toBeUndefined();

    const sentinelEntry = {
      agent_id: 'q2',
      state: 'HEALING' as const,
      reason: 'x',
      since: 1,
      by: 'sentinel' as const,
    };
    await kv.put('q2', sentinelEntry);
    await enforcer.hold(agent({ agent_id: 'q2' }), 'again');
    await enforcer.lift(agent({ agent_id: 'q2' }));
    expect(await kv.get('q2')).toEqual(sentinelEntry);
  });
});
