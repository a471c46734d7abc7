import type { Vital } from '@immune/core';
import Type from 'typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus, VitalDelivery } from '../src/bus.js';
import {
  BusClosedError,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  InvalidMessageError,
} from '../src/errors.js';
import { GATEWAY_LIMITS_BUCKET } from '../src/gateway-config.js';
import {
  defineCommand,
  type EventEnvelope,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
} from '../src/messages.js';
import { eventually, uniquePrefix } from '../src/testing.js';

let counter = 0;
export function testVital(agentId: string, overrides: Partial<Vital> = {}): Vital {
  counter++;
  return {
    id: `vital-${process.pid}-${Date.now()}-${counter}`,
    agent_id: agentId,
    ts: Date.now(),
    source: 'gateway',
    kind: 'llm',
    latency_ms: 100,
    input_tokens: 10,
    output_tokens: 5,
    total_tokens: 15,
    tool_calls: 0,
    retries: 0,
    cost: 0.0001,
    success: true,
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const echo = defineCommand({
  service: 'test',
  verb: 'echo',
  request: Type.Object({
    text: Type.String(),
    fail: Type.Optional(Type.Boolean()),
    delayMs: Type.Optional(Type.Number()),
  }),
  reply: Type.Object({ text: Type.String() }),
});

const quarantined = (agent: string): QuarantineEntry => ({
  agent_id: agent,
  state: 'QUARANTINED',
  reason: 'test',
  since: 1,
  by: 'sentinel',
});

/** The behaviour every Bus implementation must have. Each test gets its own prefix. */
export function busContract(
  name: string,
  open: (prefix: string) => Promise<Bus>,
  cleanup: (prefix: string) => Promise<void>,
) {
  describe(`bus contract: ${name}`, () => {
    let bus: Bus;
    let prefix: string;
    const extra: Bus[] = [];

    beforeEach(async () => {
      prefix = uniquePrefix();
      bus = await open(prefix);
    });

    afterEach(async () => {
      for (const other of extra.splice(0)) await other.drain();
      await bus.drain();
      await cleanup(prefix);
    });

    /** An agent id that lands on the given partition. */
    const agentOn = (partition: number, tag = 'a') => {
      for (let i = 0; ; i++) {
        const id = `agent.${tag}-${i} x`;
        if (bus.topology.partitionOf(id) === partition) return id;
      }
    };

    it('delivers a vital to the consumer that owns its partition, and only there', async () => {
      const seen0: VitalDelivery[] = [];
      const seen1: VitalDelivery[] = [];
      const c0 = await bus.consumeVitals({
        durable: 'p0',
        partitions: [0],
        handler: async (d) => void seen0.push(d),
      });
      const c1 = await bus.consumeVitals({
        durable: 'p1',
        partitions: [1],
        handler: async (d) => void seen1.push(d),
      });
      const vital = testVital(agentOn(0));
      await bus.publishVital(vital);
      await eventually(() => expect(seen0).toHaveLength(1));
      expect(seen0[0]).toMatchObject({ vital, partition: 0, redelivered: false, deliveryCount: 1 });
      expect(seen0[0]!.envelope).toMatchObject({
        v: 1,
        id: vital.id,
        type: 'vital',
        agentId: vital.agent_id,
      });
      await sleep(100);
      expect(seen1).toHaveLength(0);
      await Promise.all([c0.stop(), c1.stop()]);
    });

    it('dedupes a vital published twice with the same id', async () => {
      const seen: string[] = [];
      const sub = await bus.consumeVitals({
        durable: 'dedupe',
        handler: async (d) => void seen.push(d.vital.id),
      });
      const vital = testVital('dup-agent');
      await bus.publishVital(vital);
      await bus.publishVital(vital);
      await bus.publishVital(testVital('dup-agent'));
      await eventually(() => expect(seen).toHaveLength(2));
      await sleep(150);
      expect(seen.filter((id) => id === vital.id)).toHaveLength(1);
      await sub.stop();
    });

    it('publishes a batch: each vital once, each agent in order, and a re-published batch adds nothing', async () => {
      const seen: VitalDelivery[] = [];
      const sub = await bus.consumeVitals({ durable: 'batch', handler: async (d) => void seen.push(d) });
      const agents = ['batch.a', 'batch b', 'batch-c', agentOn(3, 'batch')];
      const batch = Array.from({ length: 600 }, (_, i) =>
        testVital(agents[i % agents.length]!, { ts: 1000 + i }),
      );
      await bus.publishVitals(batch);
      await bus.publishVitals([]);
      // A client retrying after a failure sends the same ids again, some with new ones.
      const more = [testVital('batch.a', { ts: 5000 })];
      await bus.publishVitals([...batch.slice(100, 300), ...more]);
      await eventually(() => expect(seen).toHaveLength(601), 20_000);
      await sleep(150);
      expect(seen).toHaveLength(601);
      expect(new Set(seen.map((d) => d.vital.id))).toEqual(new Set([...batch, ...more].map((v) => v.id)));
      for (const agent of agents) {
        const order = seen.filter((d) => d.vital.agent_id === agent).map((d) => d.vital.ts);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      expect(seen.find((d) => d.vital.id === batch[7]!.id)).toMatchObject({
        vital: batch[7],
        partition: bus.topology.partitionOf(batch[7]!.agent_id),
        redelivered: false,
      });
      await sub.stop();
    });

    it('redelivers a vital whose handler failed, marked as redelivered', async () => {
      const attempts: VitalDelivery[] = [];
      const sub = await bus.consumeVitals({
        durable: 'retry',
        retryDelayMs: 50,
        handler: async (d) => {
          attempts.push(d);
          if (attempts.length === 1) throw new Error('transient');
        },
      });
      await bus.publishVital(testVital('retry-agent'));
      await eventually(() => expect(attempts).toHaveLength(2));
      expect(attempts[1]).toMatchObject({ redelivered: true, deliveryCount: 2 });
      // A redelivery is the same stored message: the same stream sequence.
      expect(attempts[1]!.streamSeq).toBe(attempts[0]!.streamSeq);
      await sub.stop();
    });

    it("numbers an agent's vitals with increasing stream sequences", async () => {
      const seen: VitalDelivery[] = [];
      const sub = await bus.consumeVitals({ durable: 'seq', handler: async (d) => void seen.push(d) });
      const agent = agentOn(1);
      for (let i = 0; i < 5; i++) await bus.publishVital(testVital(agent));
      await eventually(() => expect(seen).toHaveLength(5));
      const seqs = seen.map((d) => d.streamSeq);
      for (const seq of seqs) expect(Number.isSafeInteger(seq) && seq >= 1).toBe(true);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(5);
      await sub.stop();
    });

    it('drops a vital that keeps failing after maxDeliver, and says so', async () => {
      let attempts = 0;
      const dropped: string[] = [];
      const sub = await bus.consumeVitals({
        durable: 'poison',
        retryDelayMs: 10,
        maxDeliver: 3,
        handler: async () => {
          attempts++;
          throw new Error('always');
        },
        onDropped: (reason) => dropped.push(reason),
      });
      await bus.publishVital(testVital('poison-agent'));
      await eventually(() => expect(dropped).toHaveLength(1));
      expect(attempts).toBe(3);
      expect(dropped[0]).toMatch(/failed 3 times: always/);
      await sub.stop();
    });

    it('resumes a durable consumer where it stopped, without repeating acked vitals', async () => {
      const seen: string[] = [];
      const handler = async (d: VitalDelivery) => void seen.push(d.vital.id);
      const first = await bus.consumeVitals({ durable: 'resume', handler });
      const before = Array.from({ length: 5 }, () => testVital('resume-agent'));
      for (const v of before) await bus.publishVital(v);
      await eventually(() => expect(seen).toHaveLength(5));
      await first.stop();
      const after = Array.from({ length: 5 }, () => testVital('resume-agent'));
      for (const v of after) await bus.publishVital(v);
      await sleep(100);
      expect(seen).toHaveLength(5);
      const second = await bus.consumeVitals({ durable: 'resume', handler });
      await eventually(() => expect(seen).toHaveLength(10));
      await sleep(150);
      expect(seen).toEqual([...before, ...after].map((v) => v.id));
      await second.stop();
    });

    it('reports the backlog of a durable vitals consumer, and zero for one that does not exist', async () => {
      expect(await bus.vitalsLag('nobody')).toEqual({ pending: 0, ackPending: 0 });
      const first = await bus.consumeVitals({ durable: 'lag', handler: async () => undefined });
      await first.stop();
      for (let i = 0; i < 4; i++) await bus.publishVital(testVital(`lag-agent-${i}`));
      await eventually(async () => expect(await bus.vitalsLag('lag')).toEqual({ pending: 4, ackPending: 0 }));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const second = await bus.consumeVitals({
        durable: 'lag',
        maxAckPending: 100,
        handler: async () => ({ ackWhen: gate }),
      });
      await eventually(async () => expect(await bus.vitalsLag('lag')).toEqual({ pending: 0, ackPending: 4 }));
      release();
      await eventually(async () => expect(await bus.vitalsLag('lag')).toEqual({ pending: 0, ackPending: 0 }));
      await second.stop();
    });

    it('keeps at most maxInFlight handlers running, and one agent strictly in order', async () => {
      let running = 0;
      let peak = 0;
      const perAgent = new Map<string, number[]>();
      const busyAgents = new Set<string>();
      let overlapped = false;
      const sub = await bus.consumeVitals({
        durable: 'bounded',
        maxInFlight: 3,
        handler: async ({ vital }) => {
          if (busyAgents.has(vital.agent_id)) overlapped = true;
          busyAgents.add(vital.agent_id);
          running++;
          peak = Math.max(peak, running);
          await sleep(15);
          running--;
          busyAgents.delete(vital.agent_id);
          const list = perAgent.get(vital.agent_id) ?? [];
          list.push(vital.ts);
          perAgent.set(vital.agent_id, list);
        },
      });
      const agents = ['ord-1', 'ord-2', 'ord-3', 'ord-4', 'ord-5'];
      for (let i = 0; i < 40; i++) await bus.publishVital(testVital(agents[i % 5]!, { ts: 1000 + i }));
      await eventually(() => expect([...perAgent.values()].flat()).toHaveLength(40), 10_000);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThan(1);
      expect(overlapped).toBe(false);
      for (const list of perAgent.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
      await sub.stop();
    });

    it('stop waits for handlers in flight and acks them', async () => {
      const done: string[] = [];
      const sub = await bus.consumeVitals({
        durable: 'graceful',
        handler: async ({ vital }) => {
          await sleep(200);
          done.push(vital.id);
        },
      });
      const vital = testVital('graceful-agent');
      await bus.publishVital(vital);
      await sleep(60);
      await sub.stop();
      expect(done).toEqual([vital.id]);
      const again: string[] = [];
      const next = await bus.consumeVitals({
        durable: 'graceful',
        handler: async (d) => void again.push(d.vital.id),
      });
      await sleep(200);
      expect(again).toEqual([]);
      await next.stop();
    });

    it('acks a deferred vital only when its gate resolves, and redelivers it when the gate rejects', async () => {
      const seen: string[] = [];
      const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
      const sub = await bus.consumeVitals({
        durable: 'deferred',
        retryDelayMs: 20,
        handler: async ({ vital }) => {
          seen.push(vital.id);
          const ackWhen = new Promise<void>((resolve, reject) => gates.push({ resolve, reject }));
          return { ackWhen };
        },
      });
      const first = testVital('deferred-agent', { ts: 1 });
      const second = testVital('deferred-agent', { ts: 2 });
      await bus.publishVital(first);
      await bus.publishVital(second);
      // The agent's next vital does not wait for the first one's ack.
      await eventually(() => expect(seen).toEqual([first.id, second.id]));
      gates[0]!.resolve();
      gates[1]!.reject(new Error('checkpoint failed'));
      await eventually(() => expect(seen).toEqual([first.id, second.id, second.id]));
      gates[2]!.resolve();
      await sleep(150);
      expect(seen).toHaveLength(3);
      await sub.stop();
    });

    it('settles hundreds of vitals deferred on one gate, returned without a promise, when it settles', async () => {
      const count = 600;
      const newGate = () => {
        let resolve!: () => void;
        let reject!: (error: Error) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      };
      let gate = newGate();
      const seen = new Map<string, number>();
      const sub = await bus.consumeVitals({
        durable: 'shared-gate',
        retryDelayMs: 20,
        handler: ({ vital }) => {
          seen.set(vital.id, (seen.get(vital.id) ?? 0) + 1);
          return { ackWhen: gate.promise };
        },
      });
      const vitals = Array.from({ length: count }, (_, i) =>
        testVital(`gate-agent-${i % 40}`, { ts: 1 + i }),
      );
      for (const vital of vitals) await bus.publishVital(vital);
      await eventually(() => expect(seen.size).toBe(count), 10_000);
      // A rejected gate sends every one of them back; the next gate acks them all.
      const failed = gate;
      gate = newGate();
      failed.reject(new Error('checkpoint failed'));
      await eventually(() => expect([...seen.values()].every((n) => n === 2)).toBe(true), 10_000);
      gate.resolve();
      await eventually(
        async () => expect(await bus.vitalsLag('shared-gate')).toEqual({ pending: 0, ackPending: 0 }),
        10_000,
      );
      expect([...seen.values()].every((n) => n === 2)).toBe(true);
      await sub.stop();
    });

    it('acks a vital deferred on a gate that had already resolved', async () => {
      const done = Promise.resolve();
      const seen: string[] = [];
      const sub = await bus.consumeVitals({
        durable: 'resolved-gate',
        handler: async ({ vital }) => {
          seen.push(vital.id);
          // The same promise for every vital, resolved before the second one arrives.
          await done;
          return { ackWhen: done };
        },
      });
      await bus.publishVital(testVital('resolved-gate-agent', { ts: 1 }));
      await eventually(() => expect(seen).toHaveLength(1));
      await bus.publishVital(testVital('resolved-gate-agent', { ts: 2 }));
      await eventually(
        async () => expect(await bus.vitalsLag('resolved-gate')).toEqual({ pending: 0, ackPending: 0 }),
        10_000,
      );
      expect(seen).toHaveLength(2);
      await sub.stop();
    });

    it('publishes an event with a caller-chosen id once, however often it is re-published', async () => {
      const seen: EventEnvelope[] = [];
      const sub = await bus.subscribeEvents({
        durable: 'stable-ids',
        types: ['quarantine.applied'],
        handler: async (e) => void seen.push(e),
      });
      const entry = quarantined('agent-9');
      const one = await bus.publishEvent('quarantine.applied', 'agent-9', entry, {
        id: 'q-agent-9-1',
        ts: 42,
      });
      await bus.publishEvent('quarantine.applied', 'agent-9', entry, { id: 'q-agent-9-1', ts: 42 });
      expect(one).toMatchObject({ id: 'q-agent-9-1', ts: 42 });
      await eventually(() => expect(seen).toHaveLength(1));
      await sleep(150);
      expect(seen).toHaveLength(1);
      await sub.stop();
    });

    it('delivers events durably by type, and replays retained ones on request', async () => {
      const infections: EventEnvelope[] = [];
      const sub = await bus.subscribeEvents({
        durable: 'healer',
        types: ['quarantine.applied'],
        handler: async (e) => void infections.push(e),
      });
      await bus.publishEvent('quarantine.released', 'agent-1', { agent_id: 'agent-1', reason: 'cured' });
      const published = await bus.publishEvent('quarantine.applied', 'agent-1', quarantined('agent-1'));
      await eventually(() => expect(infections).toHaveLength(1));
      expect(infections[0]).toEqual(published);
      await sub.stop();

      const replayed: string[] = [];
      const all = await bus.subscribeEvents({
        durable: 'audit',
        deliverFrom: 'all',
        handler: async (e) => void replayed.push(e.type),
      });
      await eventually(() => expect(replayed.sort()).toEqual(['quarantine.applied', 'quarantine.released']));
      await all.stop();
    });

    it('gives an ephemeral subscription only new events about its agent', async () => {
      await bus.publishEvent('quarantine.released', 'watched', { agent_id: 'watched', reason: 'old news' });
      const seen: EventEnvelope[] = [];
      const sub = await bus.subscribeEvents({ agentId: 'watched', handler: async (e) => void seen.push(e) });
      await sleep(100);
      await bus.publishEvent('quarantine.released', 'other', { agent_id: 'other', reason: 'x' });
      await bus.publishEvent('quarantine.applied', 'watched', quarantined('watched'));
      await eventually(() => expect(seen.map((e) => e.type)).toEqual(['quarantine.applied']));
      await sleep(100);
      expect(seen).toHaveLength(1);
      await sub.stop();
    });

    it('refuses to publish an event that does not match its schema', async () => {
      await expect(
        bus.publishEvent('quarantine.released', 'x', { agent_id: 'x' } as never).then(() => 'published'),
      ).resolves.toBe('published');
      const dropped: string[] = [];
      const sub = await bus.subscribeEvents({
        durable: 'strict',
        deliverFrom: 'all',
        handler: async () => undefined,
        onDropped: (reason) => dropped.push(reason),
      });
      await eventually(() => expect(dropped[0]).toMatch(/invalid event: \/data\/reason is required/));
      await sub.stop();
    });

    it('answers commands, and reports handler errors, bad requests, no responders and timeouts', async () => {
      await expect(bus.request(echo, { text: 'nobody' }, { timeoutMs: 500 })).rejects.toBeInstanceOf(
        BusNoRespondersError,
      );
      const sub = await bus.handleCommand(echo, async (req) => {
        if (req.fail) throw Object.assign(new Error('refused on purpose'), { code: 'refused' });
        if (req.delayMs) await sleep(req.delayMs);
        return { text: req.text.toUpperCase() };
      });
      await expect(bus.request(echo, { text: 'hi' })).resolves.toEqual({ text: 'HI' });
      await expect(bus.request(echo, { text: 'x', fail: true })).rejects.toMatchObject({
        constructor: BusCommandError,
        code: 'refused',
        message: 'refused on purpose',
      });
      await expect(bus.request(echo, { wrong: 1 } as never)).rejects.toBeInstanceOf(InvalidMessageError);
      await expect(
        bus.request(echo, { text: 'slow', delayMs: 400 }, { timeoutMs: 100 }),
      ).rejects.toBeInstanceOf(BusTimeoutError);
      await sub.stop();
    });

    it('carries the operator token beside the body, and no token when none is given', async () => {
      const seen: Array<string | undefined> = [];
      const sub = await bus.handleCommand(echo, async (req, context) => {
        seen.push(context.operatorToken);
        return { text: req.text };
      });
      await bus.request(echo, { text: 'with' }, { operatorToken: 'imo_contract-token' });
      await bus.request(echo, { text: 'without' });
      expect(seen).toEqual(['imo_contract-token', undefined]);
      await sub.stop();
    });

    it('keeps KV values, watches existing values then changes, and refuses invalid values', async () => {
      const kv = await bus.kv(QUARANTINE_BUCKET);
      await kv.put('agent.with dots', quarantined('agent.with dots'));
      await kv.put('b', quarantined('b'));
      expect(await kv.get('agent.with dots')).toEqual(quarantined('agent.with dots'));
      expect(await kv.get('missing')).toBeUndefined();

      const changes: Array<[string, string | undefined]> = [];
      const watch = await kv.watch((c) => changes.push([c.key, c.value?.state]));
      await watch.ready;
      expect(changes.sort()).toEqual([
        ['agent.with dots', 'QUARANTINED'],
        ['b', 'QUARANTINED'],
      ]);
      changes.length = 0;
      await kv.put('c', { ...quarantined('c'), state: 'HEALING' });
      await kv.delete('b');
      await eventually(() =>
        expect(changes).toEqual([
          ['c', 'HEALING'],
          ['b', undefined],
        ]),
      );
      expect([...(await kv.entries()).keys()].sort()).toEqual(['agent.with dots', 'c']);
      await expect(kv.put('bad', { agent_id: 'bad' } as never)).rejects.toThrow(/does not match its schema/);
      await watch.stop();
    });

    it('compare-and-set: creates only when absent, updates only at the revision read, one winner of a race', async () => {
      const kv = await bus.kv(GATEWAY_LIMITS_BUCKET);
      const counter = (granted: number) => ({ granted, limit: 100, window_start: 0 });
      const created = await kv.compareAndSet('policy:rpm:1', counter(5), 0);
      expect(created).toBeGreaterThan(0);
      expect(await kv.compareAndSet('policy:rpm:1', counter(6), 0)).toBeUndefined();
      const entry = await kv.getEntry('policy:rpm:1');
      expect(entry).toEqual({ value: counter(5), revision: created });
      const results = await Promise.all([
        kv.compareAndSet('policy:rpm:1', counter(10), created!),
        kv.compareAndSet('policy:rpm:1', counter(11), created!),
      ]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect([10, 11]).toContain((await kv.get('policy:rpm:1'))?.granted);
      expect(await kv.getEntry('missing')).toBeUndefined();
    });

    it('a watch on an empty bucket is ready at once', async () => {
      const kv = await bus.kv(QUARANTINE_BUCKET);
      const watch = await kv.watch(() => undefined);
      await expect(watch.ready).resolves.toBeUndefined();
      await watch.stop();
    });

    it('refuses to publish after drain', async () => {
      const drained = await open(prefix);
      await drained.drain();
      await expect(drained.publishVital(testVital('late'))).rejects.toBeInstanceOf(BusClosedError);
      await expect(drained.publishVitals([testVital('late')])).rejects.toBeInstanceOf(BusClosedError);
      expect(drained.status).toBe('closed');
    });
  });
}
