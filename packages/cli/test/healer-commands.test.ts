import { type Bus, connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { buildInfectionReport } from '@immune/core';
import { createHealer, HealerEnv, serveCommands } from '@immune/healer';
import {
  createLogger,
  hashOperatorToken,
  loadConfig,
  loadOperatorTokens,
  mintOperatorToken,
} from '@immune/runtime';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli.js';
import { memoryIO } from './fixtures.js';

/** The operator commands against a real healer over real NATS and PostgreSQL. */
describe('immune operator commands', { timeout: 90_000 }, () => {
  let natsUrl: string;
  const prefix = uniquePrefix('cli');
  let bus: Bus;
  let store: TestStore;
  let stopHealer: () => Promise<void>;
  let healerBus: Bus;

  // Operator tokens as the healer knows them: hashes only. dana decides, vic only looks.
  const DANA = mintOperatorToken();
  const VIC = mintOperatorToken();
  const tokenLines = `dana:operator:${hashOperatorToken(DANA)},vic:viewer:${hashOperatorToken(VIC)}`;
  const immuneWith = async (token: string | undefined, ...argv: string[]) => {
    const io = memoryIO();
    const code = await run(
      [...argv, '--nats', natsUrl, '--prefix', prefix, ...(token === undefined ? [] : ['--token', token])],
      io,
    );
    return { code, out: io.out(), err: io.err() };
  };
  const immune = (...argv: string[]) => immuneWith(DANA, ...argv);
  const json = async (...argv: string[]) => {
    const result = await immune(...argv, '--json');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.out) as Record<string, never>;
  };

  beforeAll(async () => {
    natsUrl = await natsUrlForTests();
    store = await createTestStore();
    bus = await connectNatsBus({ url: natsUrl, prefix });
    healerBus = await connectNatsBus({ url: natsUrl, prefix });
    const config = loadConfig(HealerEnv, {
      IMMUNE_SUBJECT_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      HEALER_EXECUTION: 'simulated',
      HEALER_SENTINEL_TIMEOUT_MS: '300',
      IMMUNE_OPERATOR_TOKENS: tokenLines,
    });
    const healer = createHealer({
      config,
      bus: healerBus,
      db: store.db,
      logger: createLogger({ service: 'healer', level: 'silent', format: 'json' }),
    });
    const commands = await serveCommands(healerBus, healer, loadOperatorTokens(config));
    await healer.start();
    stopHealer = async () => {
      await Promise.all(commands.map((command) => command.stop()));
      await healer.stop();
    };
  });
  afterAll(async () => {
    await stopHealer();
    await healerBus.drain();
    await bus.drain();
    await removeTopology(natsUrl, prefix);
    await store.cleanup();
  });

  it('lists, rejects, heals and labels a severe case; quarantines and releases by hand', async () => {
    const report = buildInfectionReport({
      id: `inf-${prefix}`,
      agentId: 'cli-agent',
      ts: Date.now(),
      anomalies: [{ type: 'cost_spike', metric: 'cost', observed: 9, expected: 1, sigma: 7 }],
    });
    await bus.publishEvent('infection.detected', 'cli-agent', report);
    await eventually(async () => {
      expect((await immune('pending')).out).toContain('cli-agent');
    }, 20_000);
    const pending = await immune('pending');
    expect(pending.out).toMatch(/cli-agent\s+high\s+7\.0\s+cost_spike\s+cost_overrun \d+%/);
    expect((await json('pending')).approvals).toMatchObject([{ agent_id: 'cli-agent', status: 'pending' }]);

    expect((await immune('reject', 'cli-agent')).out).toBe(`cli-agent: rejected (infection ${report.id})\n`);
    expect((await immune('reject', 'cli-agent')).out).toBe('cli-agent: unchanged, already rejected\n');
    expect((await immune('pending', '--rejected')).out).toContain('cli-agent');
    // The viewer sees the case but may not decide it; a token the healer does not know is refused too.
    expect((await immuneWith(VIC, 'pending', '--rejected')).out).toContain('cli-agent');
    expect(await immuneWith(VIC, 'heal', '--all')).toMatchObject({
      code: 1,
      err: expect.stringContaining('forbidden: healer.heal needs the operator role; vic is a viewer'),
    });
    expect(await immuneWith(`${VIC}x`, 'pending')).toMatchObject({
      code: 1,
      err: expect.stringMatching(/unauthenticated: .*not valid here \(check --token/),
    });
    // A second case nobody has looked at yet: Heal all must leave it pending.
    const unseen = buildInfectionReport({
      id: `inf-${prefix}-unseen`,
      agentId: 'cli-unseen',
      ts: Date.now(),
      anomalies: [{ type: 'cost_spike', metric: 'cost', observed: 9, expected: 1, sigma: 7 }],
    });
    await bus.publishEvent('infection.detected', 'cli-unseen', unseen);
    await eventually(async () => {
      expect((await immune('pending')).out).toContain('cli-unseen');
    }, 20_000);
    const previous = process.env.IMMUNE_OPERATOR_TOKEN;
    delete process.env.IMMUNE_OPERATOR_TOKEN;
    delete process.env.IMMUNE_TOKEN;
    expect(await immuneWith(undefined, 'heal', '--all')).toMatchObject({
      code: 2,
      err: expect.stringContaining('operator commands need an operator token'),
    });
    // $IMMUNE_OPERATOR_TOKEN is the way a shell session holds it.
    process.env.IMMUNE_OPERATOR_TOKEN = DANA;
    const healed = await immuneWith(undefined, 'heal', '--all', '--json');
    if (previous === undefined) delete process.env.IMMUNE_OPERATOR_TOKEN;
    else process.env.IMMUNE_OPERATOR_TOKEN = previous;
    expect(healed.code).toBe(0);
    // Recorded under the token's name: nothing on the command line could say otherwise.
    expect(JSON.parse(healed.out).decided).toMatchObject([
      { agent_id: 'cli-agent', status: 'approved', decided_by: 'dana' },
    ]);
    // `heal --all` meant `--status rejected`: the unseen case is still pending, until asked for by status.
    expect((await json('pending')).approvals).toMatchObject([{ agent_id: 'cli-unseen', status: 'pending' }]);
    expect((await json('heal', '--all', '--status', 'pending')).decided).toMatchObject([
      { agent_id: 'cli-unseen', infection_id: unseen.id, status: 'approved', decided_by: 'dana' },
    ]);
    expect(await immune('approve', '--all', '--operator', 'mallory')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--operator is no longer taken'),
    });
    expect((await immune('approve', '--all')).out).toBe('nothing to decide\n');

    const label = await immune('feedback', 'cli-agent', '--cause', 'prompt_injection');
    expect(label.out).toBe(
      `cli-agent: infection ${report.id} labelled prompt_injection (diagnosed as cost_overrun)\n`,
    );

    expect((await immune('quarantine', 'hand-held', '--reason', 'suspicious')).out).toBe(
      'hand-held: quarantined\n',
    );
    expect((await json('quarantine', 'hand-held')).already).toBe(true);
    const agents = (await json('agents')) as unknown as {
      agents: Array<{ agent_id: string; quarantined: boolean }>;
    };
    expect(agents.agents.find((a) => a.agent_id === 'hand-held')?.quarantined).toBe(true);
    expect((await immune('agents')).out).toMatch(/hand-held\s+QUARANTINED\s+yes/);
    expect((await immune('release', 'hand-held')).out).toBe('hand-held: released\n');
  });

  it('exits 2 on usage errors and 1 when the healer refuses or is absent', async () => {
    expect((await immune('approve')).code).toBe(2);
    expect((await immune('approve', 'a', '--all')).code).toBe(2);
    expect((await immune('feedback', 'a', '--cause', 'gremlins')).code).toBe(2);
    expect(await immune('heal', '--all', '--status', 'approved')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--status must be one of pending, rejected'),
    });
    // Only heal takes a status: approve and reject have one status to take cases from.
    expect((await immune('approve', '--all', '--status', 'pending')).code).toBe(2);
    const missing = await immune('approve', 'nobody-here');
    expect(missing).toMatchObject({ code: 1, err: expect.stringMatching(/not_found/) });
    const io = memoryIO();
    const empty = uniquePrefix('none');
    expect(
      await run(['pending', '--nats', natsUrl, '--prefix', empty, '--timeout', '500', '--token', DANA], io),
    ).toBe(1);
    expect(io.err()).toMatch(/no healer answers|did not answer/);
    await removeTopology(natsUrl, empty);
  });
});
