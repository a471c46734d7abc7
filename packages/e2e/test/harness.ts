import {
  type Bus,
  connectNatsBus,
  type EventEnvelope,
  type EventType,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
  SENTINEL_LIFECYCLE,
} from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import type { HealingActionType, LifecycleState, Vital } from '@immune/core';
import { GatewayEnv, type RunningGateway, startGateway } from '@immune/gateway';
import {
  type ActionRequest,
  type ActionResult,
  type Healer,
  HealerEnv,
  type HealingExecutor,
  startHealer,
} from '@immune/healer';
import { MockUpstream } from '@immune/mock-upstream';
import {
  createLogger,
  createPrometheusMetrics,
  hashOperatorToken,
  loadConfig,
  mintOperatorToken,
  type RunningService,
  runService,
  type ServiceContext,
} from '@immune/runtime';
import { type Sentinel, SentinelEnv, startSentinel } from '@immune/sentinel';
import { createTestStore, type TestStore } from '@immune/store/testing';

/** The e2e operator: a token minted per run; the healer and sentinel know only its hash. */
export const E2E_OPERATOR_TOKEN = mintOperatorToken();
const E2E_OPERATOR_LINE = `e2e-operator:operator:${hashOperatorToken(E2E_OPERATOR_TOKEN)}`;

/** Short windows so a whole quarantine → heal → probation loop takes seconds. */
export const SENTINEL_ENV: Record<string, string> = {
  SENTINEL_PORT: '0',
  IMMUNE_OPERATOR_TOKENS: E2E_OPERATOR_LINE,
  HOST: '127.0.0.1',
  IMMUNE_PARTITIONS: '4',
  SENTINEL_CHECKPOINT_MS: '50',
  SENTINEL_FLEET_PUBLISH_MS: '100',
  SENTINEL_FLEET_HOLD_MS: '300',
  SENTINEL_SUSPECT_WINDOW_MS: '5000',
  SENTINEL_DRAIN_TIMEOUT_MS: '300',
  SENTINEL_MIN_SAMPLES: '15',
  SENTINEL_PROBATION_MS: '1000',
  SENTINEL_PROBATION_MIN_VITALS: '3',
};

export const HEALER_ENV: Record<string, string> = {
  IMMUNE_OPERATOR_TOKENS: E2E_OPERATOR_LINE,
  HEALER_PORT: '0',
  HOST: '127.0.0.1',
  HEALER_RECONCILE_MS: '500',
  HEALER_SENTINEL_TIMEOUT_MS: '3000',
  // Every action goes to the executor named `simulated`, which the test replaces with a scripted one.
  HEALER_EXECUTION: 'simulated',
};

/**
 * The cure outcomes a test wants: `outcome(agent, action, n)` where n counts this agent's actions from 1.
 * Replaces the healer's simulated executor by name, so the healer's own routing and ladder are unchanged.
 */
export function scriptedExecutor(
  outcome: (agentId: string, action: HealingActionType, n: number) => boolean,
): HealingExecutor & { calls: Array<{ agentId: string; action: HealingActionType }> } {
  const calls: Array<{ agentId: string; action: HealingActionType }> = [];
  return {
    name: 'simulated',
    calls,
    supports: () => true,
    async apply(request: ActionRequest): Promise<ActionResult> {
      calls.push({ agentId: request.agent.agent_id, action: request.action });
      const n = calls.filter((c) => c.agentId === request.agent.agent_id).length;
      return outcome(request.agent.agent_id, request.action, n)
        ? { ok: true, detail: `scripted ${request.action} works` }
        : { ok: false, detail: `scripted ${request.action} does not help` };
    },
    async revert() {
      return false;
    },
  };
}

export interface Loop {
  prefix: string;
  /** The test's own connection: publishes vitals, sends operator commands, reads KV and events. */
  bus: Bus;
  store: TestStore;
  sentinel: Sentinel;
  healer: Healer;
  /** With `gateway: true`: the real gateway in front of the mock upstream, on the same deployment. */
  gateway: (RunningGateway & { url: string; mock: MockUpstream }) | undefined;
  events: EventEnvelope[];
  eventsOf<T extends EventType>(type: T, agentId?: string): Array<EventEnvelope<T>>;
  /** `from->to` of every lifecycle.changed seen for the agent, in seq order. */
  moves(agentId: string): string[];
  state(agentId: string): Promise<LifecycleState>;
  quarantineEntry(agentId: string): Promise<QuarantineEntry | undefined>;
  close(): Promise<void>;
}

/**
 * One deployment on the real NATS (own subject prefix) and PostgreSQL (own schema): the real sentinel and the
 * real healer, each wired through its `service.ts` function inside `runService({ ownProcess: false })` on a
 * bus connection of its own, exactly as their `main.ts` do, with short windows.
 */
export async function startLoop(
  options: { executor: HealingExecutor; sentinelEnv?: Record<string, string>; gateway?: boolean } = {
    executor: scriptedExecutor(() => true),
  },
): Promise<Loop> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix('e2e');
  const partitions = Number(SENTINEL_ENV.IMMUNE_PARTITIONS);
  const store = await createTestStore();
  const bus = await connectNatsBus({ url: natsUrl, prefix, partitions, name: 'e2e-test' });
  const events: EventEnvelope[] = [];
  const watcher = await bus.subscribeEvents({ handler: async (event) => void events.push(event) });
  const level = process.env.E2E_LOG ?? 'silent';
  const services: RunningService[] = [];

  const run = async <T>(
    name: string,
    start: (context: ServiceContext, bus: Bus) => Promise<T>,
  ): Promise<T> => {
    const logger = createLogger({ service: name, level: level as 'silent', format: 'json' });
    const serviceBus = await connectNatsBus({ url: natsUrl, prefix, partitions, name });
    let started: T | undefined;
    const service = await runService({
      name,
      logger,
      ownProcess: false,
      shutdownTimeoutMs: 15_000,
      drainDelayMs: 0,
      async start(context) {
        context.shutdown.onBusDrain(() => serviceBus.drain(), 'bus');
        started = await start(context, serviceBus);
      },
    });
    services.push(service);
    return started as T;
  };

  const { sentinel } = await run('sentinel', (context, serviceBus) =>
    startSentinel(context, {
      config: loadConfig(SentinelEnv, {
        ...SENTINEL_ENV,
        IMMUNE_SUBJECT_PREFIX: prefix,
        LOG_LEVEL: level,
        ...options.sentinelEnv,
      }),
      bus: serviceBus,
      store,
      metrics: createPrometheusMetrics({ serviceName: 'sentinel' }),
    }),
  );
  const { healer } = await run('healer', (context, serviceBus) =>
    startHealer(context, {
      config: loadConfig(HealerEnv, { ...HEALER_ENV, IMMUNE_SUBJECT_PREFIX: prefix, LOG_LEVEL: level }),
      bus: serviceBus,
      store,
      metrics: createPrometheusMetrics({ serviceName: 'healer' }),
      executors: [options.executor],
    }),
  );
  let gateway: Loop['gateway'];
  let mock: MockUpstream | undefined;
  if (options.gateway) {
    mock = await MockUpstream.start();
    const upstream = mock.url;
    const running = await run('gateway', (context, serviceBus) =>
      startGateway(context, {
        config: loadConfig(GatewayEnv, {
          LLM_UPSTREAM_URL: `${upstream}/v1`,
          ANTHROPIC_UPSTREAM_URL: upstream,
          GATEWAY_PORT: '0',
          HOST: '127.0.0.1',
          IMMUNE_OPERATOR_TOKENS: E2E_OPERATOR_LINE,
          IMMUNE_SUBJECT_PREFIX: prefix,
          LOG_LEVEL: level,
        }),
        bus: serviceBus,
        store,
        metrics: createPrometheusMetrics({ serviceName: 'gateway' }),
      }),
    );
    gateway = { ...running, url: `http://127.0.0.1:${running.port}`, mock };
  }
  const quarantine = await bus.kv(QUARANTINE_BUCKET);

  const eventsOf = <T extends EventType>(type: T, agentId?: string) =>
    events.filter(
      (e) => e.type === type && (agentId === undefined || e.agentId === agentId),
    ) as unknown as Array<EventEnvelope<T>>;
  return {
    prefix,
    bus,
    store,
    sentinel,
    healer,
    gateway,
    events,
    eventsOf,
    moves: (agentId) =>
      eventsOf('lifecycle.changed', agentId)
        .map((e) => e.data)
        .sort((a, b) => a.seq - b.seq)
        .map((t) => `${t.from}->${t.to}`),
    async state(agentId) {
      return (await bus.request(SENTINEL_LIFECYCLE, { agent_id: agentId })).state;
    },
    quarantineEntry: (agentId) => quarantine.get(agentId),
    async close() {
      // Healer first (it talks to the sentinel), then the sentinel: each runs its whole shutdown sequence.
      for (const service of services.reverse()) await service.stop('test over');
      await watcher.stop();
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
      await mock?.close();
    },
  };
}

let sequence = 0;
const runTag = Math.random().toString(36).slice(2, 8);
/**
 * Noise is numbered per agent: numbered across the file, an agent's vitals (and so the σ its anomaly reaches)
 * depended on how many vitals earlier tests had published, which `feedUntil` makes load-dependent. A shift
 * meant to be mild then came out severe now and then, and the healer waited for an approval no test gave.
 */
const perAgent = new Map<string, number>();

/**
 * One LLM call of ~1000 tokens and ~800 ms with a little deterministic noise; `factor` multiplies every token
 * count and the cost (1.4 is a mild shift of ~3.5σ for this traffic, 3 a severe one of ~11σ).
 */
export function vital(agentId: string, ts: number, factor = 1): Vital {
  const n = ++sequence;
  const m = (perAgent.get(agentId) ?? 0) + 1;
  perAgent.set(agentId, m);
  const noise = (k: number) => ((m * 7919 + k * 104_729) % 1000) / 1000;
  const input = Math.round((700 + noise(1) * 40) * factor);
  const output = Math.round((300 + noise(2) * 20) * factor);
  return {
    id: `${runTag}-${n}`,
    agent_id: agentId,
    ts: Math.round(ts),
    source: 'gateway',
    kind: 'llm',
    model: 'gpt-4o-mini',
    latency_ms: Math.round(800 + noise(3) * 40),
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    tool_calls: 0,
    retries: 0,
    cost: (input + output) * 1e-6,
    success: true,
    prompt_hash: 'prompt-v1',
  };
}
