import { QUARANTINE_BUCKET, SENTINEL_LIFECYCLE } from '@immune/bus';
import { eventually } from '@immune/bus/testing';
import type { Vital } from '@immune/core';
import { createPrometheusMetrics } from '@immune/runtime/telemetry';
import { captureLogs } from '@immune/runtime/testing';
import { createRepositories } from '@immune/store';
import type { Static } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { normalVital, retryStorm, rng, spike, toolLoop } from './fixtures.js';
import { ALICE_TOKEN, type Deployment, deployment, startSentinel, VICTOR_TOKEN } from './harness.js';

/**
 * The sentinel on real NATS and real PostgreSQL, in process: each test has its own subject prefix and schema.
 */
describe('sentinel on NATS + PostgreSQL', { timeout: 60_000 }, () => {
  const open: Deployment[] = [];
  afterEach(async () => {
    for (const d of open.splice(0)) await d.cleanup();
  });
  const deploy = async (label?: string) => {
    const d = await deployment(label);
    open.push(d);
    return d;
  };

  /** 20 normal vitals a second apart, ending a few seconds before now. */
  const warmUp = (agent: string, random: () => number, end = Date.now() - 3_000) =>
    Array.from({ length: 20 }, (_, i) => normalVital(agent, end - (20 - i) * 1_000, random));

  it('turns an anomalous stream into a quarantine in KV, events, rows and a lifecycle answer', async () => {
    const d = await deploy();
    await d.startSentinel();
    const random = rng(1);
    for (const v of warmUp('agent.alpha', random)) await d.bus.publishVital(v);
    const spikes = [0, 1].map((i) =>
      normalVital('agent.alpha', Date.now() - 1_000 + i * 100, random, spike(8)),
    );
    for (const v of spikes) await d.bus.publishVital(v);

    const kv = await d.bus.kv(QUARANTINE_BUCKET);
    await eventually(async () => expect((await kv.get('agent.alpha'))?.state).toBe('QUARANTINED'), 10_000);
    const entry = (await kv.get('agent.alpha'))!;
    expect(entry).toMatchObject({
      agent_id: 'agent.alpha',
      by: 'sentinel',
      infection_id: expect.any(String),
    });

    await eventually(() => {
      const moves = d.events
        .filter((e) => e.type === 'lifecycle.changed')
        .map((e) => (e.type === 'lifecycle.changed' ? `${e.data.from}->${e.data.to}` : ''));
      expect(moves).toEqual([
        'INITIALIZING->HEALTHY',
        'HEALTHY->SUSPECTED',
        'SUSPECTED->DRAINING',
        'DRAINING->QUARANTINED',
      ]);
    });
    const infection = d.events.find((e) => e.type === 'infection.detected');
    if (infection?.type !== 'infection.detected') throw new Error('no infection.detected event');
    expect(infection.data.id).toBe(entry.infection_id);
    expect(infection.data.anomalies.map((a) => a.type)).toEqual(expect.arrayContaining(['token_spike']));
    expect(infection.data.max_deviation).toBeGreaterThanOrEqual(5);
    expect(infection.data.recent_vitals.map((v) => v.id)).toContain(spikes[0]!.id);
    await eventually(() =>
      expect(
        d.events
          .filter((e) => e.type === 'quarantine.applied')
          // The second spike may come inside the 300 ms hold (then it is also contained softly first) or
          // after the hold's timer has run on wall time: both are right.
          .filter((e) => (e.data as { containment?: string }).containment !== 'soft')
          .map((e) => (e.data as { state: string }).state),
      ).toEqual(['DRAINING', 'QUARANTINED']),
    );

    const repos = createRepositories(d.store.db);
    expect((await repos.lifecycleEvents.history('agent.alpha')).map((t) => t.to)).toEqual([
      'HEALTHY',
      'SUSPECTED',
      'DRAINING',
      'QUARANTINED',
    ]);
    expect((await repos.infections.get(entry.infection_id!))?.severity).toMatch(/high|critical/);
    const answer = await d.bus.request(SENTINEL_LIFECYCLE, { agent_id: 'agent.alpha' });
    expect(answer).toMatchObject({ agent_id: 'agent.alpha', state: 'QUARANTINED', seq: 4 });
    expect(answer.history).toHaveLength(4);
  });

  it('applies the healer triggers: HEALING, PROBATION on fresh vitals, HEALTHY; refusals carry codes', async () => {
    const d = await deploy();
    const { sentinel } = await d.startSentinel({
      SENTINEL_PROBATION_MS: '500',
      SENTINEL_PROBATION_MIN_VITALS: '3',
    });
    const random = rng(7);
    const agent = 'agent.healed';
    for (const v of warmUp(agent, random)) await d.bus.publishVital(v);
    for (const i of [0, 1])
      await d.bus.publishVital(normalVital(agent, Date.now() - 1_000 + i * 100, random, spike(8)));
    const kv = await d.bus.kv(QUARANTINE_BUCKET);
    await eventually(async () => expect((await kv.get(agent))?.state).toBe('QUARANTINED'), 10_000);
    const infectionId = (await kv.get(agent))!.infection_id!;
    const lifecycle = (request: Static<typeof SENTINEL_LIFECYCLE.request>) =>
      d.bus.request(SENTINEL_LIFECYCLE, request);

    await expect(lifecycle({ agent_id: 'nobody', trigger: 'healing_started' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(lifecycle({ agent_id: agent, trigger: 'healing_succeeded' })).rejects.toMatchObject({
      code: 'illegal_transition',
    });

    const started = await lifecycle({
      agent_id: agent,
      trigger: 'healing_started',
      infection_id: infectionId,
      reason: 'healing starts',
      by: 'healer',
    });
    expect(started).toMatchObject({ state: 'HEALING', seq: 5 });
    // Effects and checkpoint are done before the reply: entry, row and stored state all say HEALING.
    expect((await kv.get(agent))?.state).toBe('HEALING');
    const repos = createRepositories(d.store.db);
    expect((await repos.sentinelAgents.get(agent))?.snapshot).toMatchObject({ state: 'HEALING', seq: 5 });
    expect((await repos.lifecycleEvents.latest(agent))?.to).toBe('HEALING');
    await expect(
      lifecycle({ agent_id: agent, trigger: 'healing_started', infection_id: infectionId }),
    ).rejects.toMatchObject({ code: 'illegal_transition' });

    const healed = await lifecycle({
      agent_id: agent,
      trigger: 'healing_succeeded',
      infection_id: infectionId,
      action: 'restart',
      adapt_baseline: true,
    });
    expect(healed.state).toBe('PROBATION');
    // The reply carries the probation's progress and the learned baselines (the dashboard shows both).
    expect(healed.probation).toEqual({ clean_vitals: 0, min_vitals: 3, ends_at: healed.entered_at + 500 });
    expect(healed.baselines).toMatchObject({
      kind: 'llm',
      metrics: { total_tokens: { k: 3, young: false } },
    });
    const tokens = healed.baselines!.metrics.total_tokens!;
    expect(tokens.low).toBeLessThan(tokens.typical);
    expect(tokens.high).toBeGreaterThan(tokens.typical);
    expect(await kv.get(agent)).toBeUndefined();
    expect(sentinel.triage.detectorOf(agent, 'llm')?.adapting).toBe(true);
    await eventually(() =>
      expect(d.events.filter((e) => e.type === 'quarantine.released').map((e) => e.data)).toMatchObject([
        { agent_id: agent, infection_id: infectionId },
      ]),
    );

    // Probation: judged on fresh vitals, over after 500 ms and 3 clean vitals.
    await eventually(
      async () => {
        const now = await lifecycle({ agent_id: agent });
        if (now.state === 'HEALTHY') return;
        await d.bus.publishVital(normalVital(agent, Date.now(), random));
        throw new Error(`still ${now.state}`);
      },
      10_000,
      100,
    );
    await eventually(() =>
      expect(d.events.filter((e) => e.type === 'probation.passed').map((e) => e.data)).toMatchObject([
        { agent_id: agent, infection_id: infectionId, action: 'restart' },
      ]),
    );
    expect((await repos.lifecycleEvents.history(agent)).map((t) => `${t.trigger}:${t.to}`)).toEqual([
      'baseline_ready:HEALTHY',
      'anomaly_detected:SUSPECTED',
      expect.stringMatching(/:DRAINING$/),
      'drained:QUARANTINED',
      'healing_started:HEALING',
      'healing_succeeded:PROBATION',
      'probation_passed:HEALTHY',
    ]);
  });

  it("releases only for an operator's token, and names its holder in the lifecycle history", async () => {
    const d = await deploy();
    await d.startSentinel();
    const random = rng(19);
    const agent = 'agent.released';
    for (const v of warmUp(agent, random)) await d.bus.publishVital(v);
    for (const i of [0, 1])
      await d.bus.publishVital(normalVital(agent, Date.now() - 1_000 + i * 100, random, spike(8)));
    const kv = await d.bus.kv(QUARANTINE_BUCKET);
    await eventually(async () => expect((await kv.get(agent))?.state).toBe('QUARANTINED'), 10_000);
    const release = {
      agent_id: agent,
      trigger: 'released' as const,
      by: 'operator' as const,
      reason: 'checked',
    };

    await expect(d.bus.request(SENTINEL_LIFECYCLE, release)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    await expect(
      d.bus.request(SENTINEL_LIFECYCLE, release, { operatorToken: VICTOR_TOKEN }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      d.bus.request(
        SENTINEL_LIFECYCLE,
        { agent_id: agent, trigger: 'released' },
        { operatorToken: 'imo_guess' },
      ),
    ).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await kv.get(agent))?.state).toBe('QUARANTINED');

    const answer = await d.bus.request(SENTINEL_LIFECYCLE, release, { operatorToken: ALICE_TOKEN });
    expect(answer.state).toBe('HEALTHY');
    expect(answer.history.at(-1)).toMatchObject({
      trigger: 'released',
      reason: 'released by alice: checked',
    });
    expect(await kv.get(agent)).toBeUndefined();
  });

  it('keeps the baselines across a restart: no re-learning, no new warm-up', async () => {
    const d = await deploy();
    const first = await d.startSentinel();
    const random = rng(2);
    for (const v of warmUp('agent-b', random)) await d.bus.publishVital(v);
    await eventually(() => expect(first.sentinel.triage.detectorOf('agent-b', 'llm')?.samples).toBe(20));
    await first.stop();
    // Shutdown also refreshed the read model dashboards use.
    const stored = await createRepositories(d.store.db).baselines.get('agent-b', 'llm');
    expect(stored?.snapshot.samples).toBe(20);

    const second = await d.startSentinel();
    const detector = second.sentinel.triage.detectorOf('agent-b', 'llm');
    expect(detector?.samples).toBe(20);
    expect(detector?.warm).toBe(true);
    expect(second.sentinel.triage.lifecycleOf('agent-b')?.state).toBe('HEALTHY');
    const before = first.sentinel.triage.detectorOf('agent-b', 'llm')!.baseline('total_tokens');
    expect(detector!.baseline('total_tokens')).toEqual(before);

    // Judged at once: the very next anomalous vital opens a suspicion.
    await d.bus.publishVital(normalVital('agent-b', Date.now(), random, spike(1.6)));
    await eventually(() => expect(second.sentinel.triage.lifecycleOf('agent-b')?.state).toBe('SUSPECTED'));
    const moves = d.events.filter((e) => e.type === 'lifecycle.changed').map((e) => e.data);
    expect(moves.filter((m) => (m as { from: string }).from === 'INITIALIZING')).toHaveLength(1);
  });

  it('refuses a checkpoint of another layout loudly and starts that agent fresh', async () => {
    const d = await deploy();
    const first = await d.startSentinel();
    const random = rng(3);
    for (const agent of ['agent-kept', 'agent-stale'])
      for (const v of warmUp(agent, random)) await d.bus.publishVital(v);
    await eventually(() => {
      for (const agent of ['agent-kept', 'agent-stale'])
        expect(first.sentinel.triage.detectorOf(agent, 'llm')?.samples).toBe(20);
    });
    await first.stop();
    // What a build with another packing would have written: a packed state this build's layout does not open.
    const repos = createRepositories(d.store.db);
    const stale = (await repos.sentinelAgents.get('agent-stale'))!;
    await repos.sentinelAgents.saveMany([
      { ...stale, updated_at: stale.updated_at + 1, snapshot: { ...stale.snapshot, packed: 'AQ==' } },
    ]);

    const logs = captureLogs({ level: 'warn' });
    const metrics = createPrometheusMetrics({ serviceName: 'sentinel-test' });
    const second = await startSentinel(d.store, d.connect, {}, logs.logger, metrics.meter());
    try {
      expect(await metrics.scrape()).toMatch(/^sentinel_checkpoints_refused_total(\{[^}]*\})? 1$/m);
      expect(second.sentinel.triage.detectorOf('agent-kept', 'llm')?.samples).toBe(20);
      expect(second.sentinel.triage.has('agent-stale')).toBe(false);
      const refused = logs.find('sentinel-checkpoint-refused');
      expect(refused).toMatchObject({ level: 'error', agent_id: 'agent-stale' });
      expect(refused?.err).toMatchObject({
        message: expect.stringMatching(
          /triage checkpoint of agent 'agent-stale' does not match this build: packed/,
        ),
      });
      await d.bus.publishVital(normalVital('agent-stale', Date.now(), random));
      await eventually(() =>
        expect(second.sentinel.triage.detectorOf('agent-stale', 'llm')?.samples).toBe(1),
      );
      expect(second.sentinel.triage.lifecycleOf('agent-stale')?.state).toBe('INITIALIZING');
    } finally {
      await second.stop();
      await metrics.shutdown();
    }
  });

  it('catches a tool-call loop and a retry storm from repeated hashes', async () => {
    const d = await deploy();
    await d.startSentinel();
    const random = rng(3);
    for (const agent of ['agent-loop', 'agent-storm']) {
      for (const v of warmUp(agent, random)) await d.bus.publishVital(v);
    }
    const now = Date.now() - 2_000;
    for (let i = 0; i < 8; i++) {
      await d.bus.publishVital(normalVital('agent-loop', now + i * 100, random, toolLoop));
      // Tokens and latency stay normal: only the repetition gives the storm away.
      await d.bus.publishVital(normalVital('agent-storm', now + i * 100, random, retryStorm));
    }
    const kv = await d.bus.kv(QUARANTINE_BUCKET);
    await eventually(async () => {
      expect((await kv.get('agent-loop'))?.state).toBeDefined();
      expect((await kv.get('agent-storm'))?.state).toBeDefined();
    }, 10_000);
    const types = (agent: string) =>
      d.events.flatMap((e) =>
        e.type === 'infection.detected' && e.agentId === agent ? e.data.anomalies.map((a) => a.type) : [],
      );
    await eventually(() => {
      expect(types('agent-loop')).toContain('tool_explosion');
      expect(types('agent-storm')).toContain('high_retry_rate');
    });
  });

  it('classifies a fleet-wide anomaly as external: fleet.correlated and no quarantines', async () => {
    const d = await deploy();
    await d.startSentinel({ SENTINEL_FLEET_HOLD_MS: '1000' });
    const random = rng(4);
    const agents = Array.from({ length: 20 }, (_, i) => `fleet-${i}`);
    for (const agent of agents) for (const v of warmUp(agent, random)) await d.bus.publishVital(v);
    // A provider outage: 8 of 20 agents see 6x latency at once, twice each.
    for (let round = 0; round < 2; round++) {
      for (const agent of agents.slice(0, 8)) {
        await d.bus.publishVital(normalVital(agent, Date.now(), random, { latency_ms: 5_000 }));
      }
    }
    await eventually(() => expect(d.events.some((e) => e.type === 'fleet.correlated')).toBe(true), 10_000);
    const fleet = d.events.find((e) => e.type === 'fleet.correlated');
    expect(fleet?.data).toMatchObject({ anomaly_type: 'latency_spike', fleet_size: 20 });
    expect(fleet?.agentId).toBe('_fleet');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const kv = await d.bus.kv(QUARANTINE_BUCKET);
    expect([...(await kv.entries()).keys()]).toEqual([]);
    expect(d.events.filter((e) => e.type === 'infection.detected')).toEqual([]);
  });

  it('two instances splitting the partitions decide as one instance does on the same traffic', async () => {
    const single = await deploy('one');
    const split = await deploy('two');
    await single.startSentinel({ SENTINEL_FLEET_HOLD_MS: '1500' });
    await split.startSentinel({
      SENTINEL_PARTITIONS: '0-1',
      SENTINEL_INSTANCE_ID: 'left',
      SENTINEL_FLEET_HOLD_MS: '1500',
    });
    await split.startSentinel({
      SENTINEL_PARTITIONS: '2-3',
      SENTINEL_INSTANCE_ID: 'right',
      SENTINEL_FLEET_HOLD_MS: '1500',
    });

    const random = rng(5);
    const agents = Array.from({ length: 24 }, (_, i) => `mixed-${i}`);
    const warm: Vital[] = agents.flatMap((agent) => warmUp(agent, random));
    const publishBoth = async (vitals: Vital[]) => {
      for (const v of vitals) {
        await single.bus.publishVital(v);
        await split.bus.publishVital(v);
      }
    };
    await publishBoth(warm);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Then, at the same wall-clock moment for both: an outage on 10 agents, a token explosion on one, a loop on
    // another.
    const now = Date.now();
    const incident: Vital[] = [];
    for (let round = 0; round < 3; round++) {
      for (const agent of agents.slice(0, 10)) {
        incident.push(normalVital(agent, now + round * 50, random, { latency_ms: 6_000 }));
      }
      // ×1.8: ~4.5σ-equivalent on a young baseline's Student-t tail, three in a row are sustained evidence.
      incident.push(normalVital('mixed-20', now + round * 50, random, spike(1.6)));
    }
    for (let i = 0; i < 8; i++) incident.push(normalVital('mixed-21', now + i * 20, random, toolLoop));
    await publishBoth(incident);

    const quarantined = async (d: Deployment) => {
      const entries = await (await d.bus.kv(QUARANTINE_BUCKET)).entries();
      return [...entries.values()].map((e) => `${e.agent_id}:${e.state}`).sort();
    };
    await eventually(async () => {
      expect(await quarantined(single)).toEqual(['mixed-20:QUARANTINED', 'mixed-21:QUARANTINED']);
      expect(await quarantined(split)).toEqual(['mixed-20:QUARANTINED', 'mixed-21:QUARANTINED']);
    }, 15_000);
    const infected = (d: Deployment) =>
      d.events.flatMap((e) => (e.type === 'infection.detected' ? [e.agentId] : [])).sort();
    // Final states agree agent by agent (from the lifecycle_events tables of each deployment).
    const finalStates = async (d: Deployment) => {
      const repos = createRepositories(d.store.db);
      const out: Record<string, string | undefined> = {};
      for (const agent of agents) out[agent] = (await repos.lifecycleEvents.latest(agent))?.to;
      return out;
    };
    // One deployment may be behind the other on a loaded machine: the events and rows agree once both are done.
    await eventually(async () => {
      expect(await quarantined(split)).toEqual(await quarantined(single));
      expect(infected(split)).toEqual(infected(single));
      for (const d of [single, split]) {
        expect(d.events.some((e) => e.type === 'fleet.correlated')).toBe(true);
      }
      expect(await finalStates(split)).toEqual(await finalStates(single));
    }, 15_000);
  });
});
