import { type Bus, connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { type EventEnvelope, ImmuneSubscriber } from '../src/index.js';

// The machine is shared: wait generously, never a fixed time.
const soon = (check: () => void | Promise<void>) => eventually(check, 20_000);
vi.setConfig({ testTimeout: 30_000 });

let url: string;
let prefix: string;
let publisher: Bus;
let subscriber: ImmuneSubscriber;

beforeEach(async () => {
  url = await natsUrlForTests();
  prefix = uniquePrefix('sdk');
  publisher = await connectNatsBus({ url, prefix });
  subscriber = await ImmuneSubscriber.connect({ natsUrl: url, prefix });
}, 30_000);
afterEach(async () => {
  await subscriber.close();
  await publisher.drain();
  await removeTopology(url, prefix);
});

const quarantine = (agent: string) => ({
  agent_id: agent,
  state: 'QUARANTINED' as const,
  reason: 'token spike',
  since: Date.now(),
  by: 'sentinel' as const,
});

it('delivers events by type, decoded and typed, and by agent whatever the type', async () => {
  const byType: Array<EventEnvelope<'quarantine.applied' | 'quarantine.released'>> = [];
  const aboutBob: EventEnvelope[] = [];
  await subscriber.on(['quarantine.applied', 'quarantine.released'], (event) => {
    byType.push(event);
  });
  await subscriber.onAgent('bob.bot', (event) => {
    aboutBob.push(event);
  });
  await publisher.publishEvent('quarantine.applied', 'alice', quarantine('alice'));
  await publisher.publishEvent('quarantine.applied', 'bob.bot', quarantine('bob.bot'));
  await publisher.publishEvent('quarantine.released', 'alice', { agent_id: 'alice', reason: 'healed' });
  await publisher.publishEvent('agent.discovered', 'bob.bot', {
    agent_id: 'bob.bot',
    source: 'ingest',
    identity: 'registered',
  });
  await soon(() => expect(byType).toHaveLength(3));
  await soon(() =>
    expect(aboutBob.map((e) => e.type).sort()).toEqual(['agent.discovered', 'quarantine.applied']),
  );
  const applied = byType.find((e) => e.type === 'quarantine.applied' && e.agentId === 'alice')!;
  if (applied.type === 'quarantine.applied') expect(applied.data.reason).toBe('token spike');
  expect(byType.every((e) => e.v === 1 && typeof e.ts === 'number')).toBe(true);
}, 30_000);

it('a durable subscription gets events published while it was away', async () => {
  const seen: string[] = [];
  const first = await subscriber.on('quarantine.released', async (e) => void seen.push(e.id), {
    durable: 'pager',
  });
  await first.stop();
  const missed = await publisher.publishEvent('quarantine.released', 'carol', {
    agent_id: 'carol',
    reason: 'x',
  });
  await subscriber.on('quarantine.released', async (e) => void seen.push(e.id), { durable: 'pager' });
  await soon(() => expect(seen).toEqual([missed.id]));
}, 30_000);
