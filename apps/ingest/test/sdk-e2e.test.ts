import { connectNatsBus } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { createLogger } from '@immune/runtime';
import { ImmuneReporter, ImmuneSubscriber } from '@immune/sdk';
import { AgentRepository } from '@immune/store';
import { createTestStore } from '@immune/store/testing';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { Recorder } from '../src/recorder.js';
import { startApp } from './harness.js';

it('the SDK reports through ingest into PostgreSQL, registers its agent, and hears it announced', async () => {
  const url = await natsUrlForTests();
  const prefix = uniquePrefix('sdk');
  const bus = await connectNatsBus({ url, prefix });
  const store = await createTestStore();
  const app = await startApp({ bus, store, listen: true });
  const logger = createLogger({ service: 'sdk-e2e', level: 'silent', format: 'json' });
  const recorder = new Recorder({ bus, db: store.db, logger, batchSize: 50, flushIntervalMs: 50 });
  await recorder.start();
  const subscriber = await ImmuneSubscriber.connect({ natsUrl: url, prefix });
  const announced: string[] = [];
  await subscriber.on(
    'agent.discovered',
    (event) => void announced.push(`${event.agentId}:${event.data.identity}`),
  );
  const reporter = new ImmuneReporter({
    url: app.url,
    apiKey: app.key,
    agentId: 'sdk.agent',
    batchSize: 40,
    exitHooks: false,
  });
  try {
    await reporter.register({
      name: 'SDK agent',
      model: 'gpt-4o-mini',
      control_url: 'http://127.0.0.1:9/ctl',
    });
    const ids = Array.from({ length: 250 }, (_, i) =>
      reporter.report({
        kind: 'llm',
        model: 'gpt-4o-mini',
        latency_ms: 100 + i,
        input_tokens: 10,
        output_tokens: i,
      }),
    );
    await reporter.flush();
    expect(reporter.stats).toMatchObject({ sent: 250, dropped: 0 });
    await eventually(async () => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from vitals`.execute(store.db);
      expect(rows[0]!.n).toBe(250);
    }, 30_000);
    const { rows } = await sql<{ id: string }>`select id from vitals`.execute(store.db);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    expect(await new AgentRepository(store.db).get('sdk.agent')).toMatchObject({
      name: 'SDK agent',
      control_url: 'http://127.0.0.1:9/ctl',
    });
    await eventually(() => expect(announced).toEqual(['sdk.agent:registered']));
  } finally {
    await reporter.close();
    await subscriber.close();
    await recorder.stopWork();
    await app.close();
    await bus.drain();
    await removeTopology(url, prefix);
    await store.cleanup();
  }
}, 120_000);
