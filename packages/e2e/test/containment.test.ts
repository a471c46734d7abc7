import { eventually } from '@immune/bus/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Loop, scriptedExecutor, startLoop } from './harness.js';

/**
 * Soft containment on the real stack: the real gateway in front of the mock upstream, the real sentinel and
 * healer, real NATS and PostgreSQL. A 10 s fleet hold, as in production: the full quarantine waits for it, the
 * soft clamp does not.
 */
const NORMAL = { outputTokens: 300, latencyMs: 100 };
const SLOW = { outputTokens: 300, latencyMs: 1_500 };

describe('soft containment: gateway + sentinel on NATS + PostgreSQL', { timeout: 120_000 }, () => {
  const open: Loop[] = [];
  afterEach(async () => {
    for (const loop of open.splice(0)) await loop.close();
  });
  const start = async () => {
    const loop = await startLoop({
      executor: scriptedExecutor(() => true),
      gateway: true,
      sentinelEnv: { SENTINEL_FLEET_HOLD_MS: '10000', SENTINEL_SUSPECT_WINDOW_MS: '30000' },
    });
    open.push(loop);
    return loop;
  };

  let asked = 0;
  /** One chat call through the gateway asking for 4,000 output tokens (each a new question); returns the status. */
  async function call(loop: Loop, agent: string): Promise<number> {
    asked++;
    const res = await fetch(`${loop.gateway!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-immune-agent': agent },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        max_tokens: 4_000,
        messages: [{ role: 'user', content: `write part ${asked}` }],
      }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** What the mock upstream was last asked for, for this agent. */
  function lastAsk(loop: Loop, agent: string): number | undefined {
    const requests = loop.gateway!.mock.requests.filter((r) => r.headers['x-immune-agent'] === agent);
    const body = requests.at(-1)?.body as { max_tokens?: number } | undefined;
    return body?.max_tokens;
  }

  /** Waits until the sentinel has judged `n` LLM vitals of the agent. */
  async function judged(loop: Loop, agent: string, n: number): Promise<void> {
    await eventually(
      () => expect(loop.sentinel.triage.detectorOf(agent, 'llm')?.samples ?? 0).toBeGreaterThanOrEqual(n),
      15_000,
      10,
    );
  }

  /**
   * 20 normal calls of 300 output tokens taking ~100 ms (a real model's latency, so the scheduling jitter of a
   * loaded machine is not a latency anomaly): the baseline is warm and the agent HEALTHY.
   */
  async function warmUp(loop: Loop, agent: string): Promise<void> {
    loop.gateway!.mock.setBehaviour(agent, NORMAL);
    for (let i = 0; i < 20; i++) expect(await call(loop, agent)).toBe(200);
    await judged(loop, agent, 20);
    await eventually(async () => expect(await loop.state(agent)).toBe('HEALTHY'), 15_000);
  }

  it('clamps the call right after the severe vital, long before the fleet hold quarantines', async () => {
    const loop = await start();
    const agent = 'runaway.agent';
    await warmUp(loop, agent);
    expect(lastAsk(loop, agent)).toBe(4_000);

    loop.gateway!.mock.setBehaviour(agent, { ...NORMAL, outputTokens: 4_000 });
    let runaway = 0;
    // Call, wait for the sentinel to judge that call, look at the entry: the first call after the soft entry
    // is written must reach the upstream clamped.
    while (runaway < 6) {
      expect(await call(loop, agent)).toBe(200);
      runaway++;
      await judged(loop, agent, 20 + runaway);
      const entry = await loop.quarantineEntry(agent);
      if (entry?.containment === 'soft') break;
    }
    const entry = (await loop.quarantineEntry(agent))!;
    expect(entry).toMatchObject({ state: 'SUSPECTED', containment: 'soft', by: 'sentinel' });
    expect(runaway).toBeLessThanOrEqual(3);
    expect(entry.max_tokens).toBeGreaterThanOrEqual(300);
    expect(entry.max_tokens).toBeLessThan(1_000);
    await eventually(
      () => expect(loop.gateway!.gateway.quarantine.soft.entryOf(agent)).toBeDefined(),
      10_000,
      10,
    );

    expect(await call(loop, agent)).toBe(200);
    expect(lastAsk(loop, agent)).toBe(entry.max_tokens);
    // The 200 shows the full quarantine had not come yet; the state itself moves on when the 10 s hold ends,
    // which a loaded machine can reach by now, so the suspicion is read from the lifecycle history.
    await eventually(() => expect(loop.moves(agent)).toContain('HEALTHY->SUSPECTED'), 10_000);
    expect(loop.eventsOf('quarantine.applied', agent).map((e) => e.data.containment)).toContain('soft');

    // The lifecycle goes on: after the hold, the full quarantine replaces the soft entry and the gateway refuses.
    await eventually(
      async () => expect((await loop.quarantineEntry(agent))?.state).toBe('DRAINING'),
      30_000,
      50,
    );
    await eventually(() => expect(loop.gateway!.gateway.quarantine.blockOf(agent)).toBeDefined(), 10_000, 10);
    expect(await call(loop, agent)).toBe(403);
  });

  it('releases the soft containment at once when the cause turns out fleet-wide, and quarantines nobody', async () => {
    const loop = await start();
    const agents = Array.from({ length: 8 }, (_, i) => `fleet-${i}.agent`);
    await Promise.all(agents.map((agent) => warmUp(loop, agent)));
    const [first, second] = agents as [string, string];

    // A provider turns slow for two agents first: severe latency, contained softly within a few calls.
    const mock = loop.gateway!.mock;
    for (const agent of [first, second]) mock.setBehaviour(agent, SLOW);
    await Promise.all(
      [first, second].map(async (agent) => {
        for (let i = 0; i < 6; i++) {
          expect(await call(loop, agent)).toBe(200);
          await judged(loop, agent, 21 + i);
          if ((await loop.quarantineEntry(agent))?.containment === 'soft') return;
        }
        throw new Error(`${agent} was not contained: ${loop.moves(agent).join(' ')}`);
      }),
    );

    // Then the whole fleet sees it: the outage is fleet-wide, the soft entries go before the hold is over.
    for (const agent of agents) mock.setBehaviour(agent, SLOW);
    await Promise.all(
      agents.slice(2).map(async (agent) => {
        for (let i = 0; i < 3; i++) expect(await call(loop, agent)).toBe(200);
      }),
    );
    for (const agent of [first, second]) {
      await eventually(async () => expect(await loop.quarantineEntry(agent)).toBeUndefined(), 15_000, 20);
    }
    // Released for the external cause, not by the hold running out (that goes on to DRAINING): the release
    // reasons below and the absence of any full quarantine at the end prove it without timing the release.
    const released = loop.eventsOf('quarantine.released').map((e) => e.agentId);
    await eventually(
      () => expect(loop.eventsOf('quarantine.released').length).toBeGreaterThanOrEqual(2),
      10_000,
    );
    expect(released.length === 0 || released.every((a) => a === first || a === second)).toBe(true);
    for (const agent of [first, second]) {
      const release = loop.eventsOf('quarantine.released', agent)[0]!;
      expect(release.data.reason).toMatch(/external cause: fleet-wide/);
    }
    await eventually(
      () => expect(loop.gateway!.gateway.quarantine.soft.entryOf(first)).toBeUndefined(),
      10_000,
      10,
    );
    mock.setBehaviour(first, NORMAL);
    expect(await call(loop, first)).toBe(200);
    expect(lastAsk(loop, first)).toBe(4_000);

    // Nobody is quarantined: the hold clears every suspicion as an external cause.
    for (const agent of agents) {
      await eventually(async () => expect(await loop.state(agent)).toBe('HEALTHY'), 30_000, 100);
    }
    expect(loop.eventsOf('quarantine.applied').filter((e) => e.data.containment !== 'soft')).toEqual([]);
    expect(loop.eventsOf('infection.detected')).toEqual([]);
  });
});
