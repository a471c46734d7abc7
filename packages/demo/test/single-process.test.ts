import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEnvelope, Subscription } from '@immune/bus';
import { eventually, natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import {
  createLogger,
  createPrometheusMetrics,
  loadConfig,
  type RunningService,
  runService,
} from '@immune/runtime';
import { openStore } from '@immune/store';
import { randomSchemaName, resolveTestDatabaseUrl } from '@immune/store/testing';
import { sql } from 'kysely';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { SingleProcessEnv } from '../src/config.js';
import { type SingleProcess, startSingleProcess } from '../src/single-process.js';

// The end-to-end check of single-process mode, once embedded and once on real NATS + PostgreSQL: the
// whole system runs, a demo agent gets a token explosion, the gateway refuses its next call once it is
// quarantined, the approval path (auto-approved here) heals it back to HEALTHY through probation, and every
// vital the gateway published is a row in PostgreSQL.

const SICK = 'research-1';

/** Short windows so the loop runs in seconds; everything else is the services' defaults. */
const FAST: Record<string, string> = {
  HOST: '127.0.0.1',
  GATEWAY_PORT: '0',
  INGEST_PORT: '0',
  SENTINEL_PORT: '0',
  HEALER_PORT: '0',
  MOCK_UPSTREAM_PORT: '0',
  MCP_PROXY_PORT: '0',
  DASHBOARD_PORT: '0',
  DEMO_MCP_PORT: '0',
  DEMO_FLEET_SIZE: '4',
  DEMO_SPEED: '4',
  DEMO_CHAOS: '0',
  // Long enough that the refusal checks below run while the agent is still quarantined on a loaded machine.
  DEMO_AUTO_APPROVE_SECONDS: '8',
  SENTINEL_MIN_SAMPLES: '8',
  SENTINEL_DRAIN_TIMEOUT_MS: '500',
  SENTINEL_PROBATION_MS: '3000',
  SENTINEL_FLEET_HOLD_MS: '500',
  SENTINEL_CHECKPOINT_MS: '100',
  HEALER_RECONCILE_MS: '500',
  INGEST_RECORDER_FLUSH_MS: '50',
  INGEST_API_KEY: 'imk_e2e-test-key-0123456789abcdef',
};

interface Run {
  service: RunningService;
  system: SingleProcess;
  events: EventEnvelope[];
  vitalIds: Set<string>;
  /** Tool-call vitals (source mcp) by agent: the fleet's tool calls through the MCP proxy. */
  toolVitals: Map<string, number>;
  cleanup: () => Promise<void>;
}

const runs: Run[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) {
    await run.service.stop('test over');
    await run.cleanup();
  }
});

async function start(env: Record<string, string>, cleanup: () => Promise<void>): Promise<Run> {
  const config = loadConfig(SingleProcessEnv, env);
  const logger = createLogger({ service: 'e2e', level: 'warn', format: 'json' });
  const metrics = createPrometheusMetrics({ serviceName: 'e2e' });
  let system: SingleProcess | undefined;
  const events: EventEnvelope[] = [];
  const vitalIds = new Set<string>();
  const toolVitals = new Map<string, number>();
  const subscriptions: Subscription[] = [];
  const service = await runService({
    name: 'immune-e2e',
    logger,
    ownProcess: false,
    async start(context) {
      const say = process.env.E2E_STORY ? (line: string) => console.log(line) : () => {};
      system = await startSingleProcess(context, { config, env, metrics, say });
      const bus = system.bus;
      subscriptions.push(await bus.subscribeEvents({ handler: async (event) => void events.push(event) }));
      // What the gateway published, counted independently of the recorder under test.
      subscriptions.push(
        await bus.consumeVitals({
          durable: 'e2e-count',
          handler: async (delivery) => {
            vitalIds.add(delivery.vital.id);
            if (delivery.vital.source === 'mcp')
              toolVitals.set(delivery.vital.agent_id, (toolVitals.get(delivery.vital.agent_id) ?? 0) + 1);
          },
        }),
      );
      context.shutdown.onStopWork(async () => {
        for (const subscription of subscriptions) await subscription.stop();
      }, 'e2e');
    },
  });
  const run: Run = { service, system: system!, events, vitalIds, toolVitals, cleanup };
  runs.push(run);
  return run;
}

const lifecycle = (run: Run, to: string) =>
  run.events.some(
    (event) => event.type === 'lifecycle.changed' && event.agentId === SICK && event.data.to === to,
  );

async function driveTheLoop(run: Run): Promise<void> {
  const { system } = run;
  // Every agent has learned its baseline before the fault.
  await eventually(() => {
    const learned = new Set(
      run.events
        .filter((e) => e.type === 'lifecycle.changed' && e.data.trigger === 'baseline_ready')
        .map((e) => e.agentId),
    );
    expect(learned.has(SICK)).toBe(true);
  }, 60_000);

  system.chaos!.injectNow(SICK, { provider: 'huge_output' }, 300, 'token explosion');
  await eventually(() => expect(lifecycle(run, 'QUARANTINED')).toBe(true), 60_000);

  // The agent's next call through the gateway is refused, the way its own SDK sees it.
  const client = new OpenAI({
    baseURL: `${system.gatewayUrl}/v1`,
    apiKey: 'sk-e2e',
    defaultHeaders: { 'x-immune-agent': SICK },
    maxRetries: 0,
  });
  const refusal = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello?' }] })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  expect(refusal).toBeInstanceOf(OpenAI.APIError);
  expect((refusal as InstanceType<typeof OpenAI.APIError>).status).toBe(403);
  expect((refusal as InstanceType<typeof OpenAI.APIError>).code).toBe('agent_quarantined');
  // Its tool calls too: the MCP proxy in front of the demo MCP server answers a JSON-RPC error with 403.
  const toolRefusal = await fetch(`${system.mcpProxyUrl}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-immune-agent': SICK,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'web_search', arguments: {} },
    }),
  });
  expect(toolRefusal.status).toBe(403);
  expect(await toolRefusal.json()).toMatchObject({ id: 1, error: { code: -31001 } });
  // The fleet's tool calls went through the MCP proxy, one vital each.
  expect(run.toolVitals.size).toBeGreaterThan(1);

  // Approval (auto, as an operator would), a cure that ends the fault, probation on fresh vitals, healthy.
  await eventually(() => expect(lifecycle(run, 'PROBATION')).toBe(true), 60_000);
  await eventually(() => {
    const back = run.events.some(
      (e) =>
        e.type === 'lifecycle.changed' &&
        e.agentId === SICK &&
        e.data.from === 'PROBATION' &&
        e.data.to === 'HEALTHY',
    );
    expect(back).toBe(true);
  }, 60_000);
  // The healer learns the cure worked from probation.passed, just after the sentinel's transition.
  await eventually(() => {
    const types = new Set(run.events.filter((e) => e.agentId === SICK).map((e) => e.type));
    for (const type of ['infection.detected', 'approval.requested', 'approval.decided', 'healing.succeeded'])
      expect(types, type).toContain(type);
  }, 15_000);

  // Every vital published is recorded: stop the agents, let the last ones arrive, compare the ids.
  for (const agent of system.fleet) agent.stop();
  let recorded = new Set<string>();
  await eventually(async () => {
    const rows = await sql<{ id: string }>`select id from vitals`.execute(system.store.db);
    recorded = new Set(rows.rows.map((row) => row.id));
    expect(run.vitalIds.size).toBeGreaterThan(40);
    for (const id of run.vitalIds) expect(recorded.has(id), id).toBe(true);
    // A call in flight when its agent stopped still ends in a vital: compare once both sides are complete.
    expect(recorded.size).toBe(run.vitalIds.size);
  }, 30_000);

  // The dashboard runs in the same process: the token it made for this run reads the fleet. The agent may have
  // moved on since HEALTHY (a fresh suspicion in the calls it made before it stopped), so the card must show
  // the sentinel's latest state, whatever that is.
  const token = system.dashboardToken!;
  await eventually(async () => {
    const agents = await fetch(`${system.dashboardUrl}/api/agents`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(agents.status).toBe(200);
    const listed = (await agents.json()) as { agents: Array<{ agent_id: string; state: string }> };
    let latest: string | undefined;
    for (const event of run.events)
      if (event.type === 'lifecycle.changed' && event.agentId === SICK) latest = event.data.to;
    expect(listed.agents.find((agent) => agent.agent_id === SICK)?.state).toBe(latest);
  }, 15_000);
}

describe('single-process mode', () => {
  it('runs the whole immune loop embedded (embedded bus, PGlite)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'immune-e2e-'));
    const run = await start({ ...FAST, IMMUNE_DATA_DIR: dataDir }, async () =>
      rmSync(dataDir, { recursive: true, force: true }),
    );
    await driveTheLoop(run);
  }, 240_000);

  it('runs the whole immune loop on real NATS and PostgreSQL', async () => {
    const natsUrl = await natsUrlForTests();
    const databaseUrl = await resolveTestDatabaseUrl();
    const prefix = uniquePrefix('e2e');
    const schema = randomSchemaName();
    const run = await start(
      {
        ...FAST,
        NATS_URL: natsUrl,
        DATABASE_URL: databaseUrl,
        IMMUNE_SUBJECT_PREFIX: prefix,
        IMMUNE_DB_SCHEMA: schema,
      },
      async () => {
        await removeTopology(natsUrl, prefix);
        const admin = await openStore({ databaseUrl, migrate: false });
        await sql.raw(`drop schema if exists ${schema} cascade`).execute(admin.db);
        await admin.close();
      },
    );
    await driveTheLoop(run);
  }, 240_000);
});
