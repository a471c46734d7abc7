import { type Bus, connectNatsBus, type EventEnvelope } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import { createLogger, hashOperatorToken, type Logger, loadConfig, mintOperatorToken } from '@immune/runtime';
import type { Store } from '@immune/store';
import { createTestStore, type TestStore } from '@immune/store/testing';
import type { Meter } from '@opentelemetry/api';
import { type SentinelConfig, SentinelEnv } from '../src/config.js';
import { Sentinel } from '../src/sentinel.js';

/** Operator tokens the sentinel under test knows (as hashes): alice operates, victor views. */
export const ALICE_TOKEN = mintOperatorToken();
export const VICTOR_TOKEN = mintOperatorToken();

/** Settings that make a test's timeline short: small hold, drain and checkpoint intervals, 4 partitions. */
export const FAST_ENV: Record<string, string> = {
  IMMUNE_PARTITIONS: '4',
  SENTINEL_CHECKPOINT_MS: '50',
  SENTINEL_FLEET_PUBLISH_MS: '100',
  SENTINEL_FLEET_HOLD_MS: '300',
  SENTINEL_DRAIN_TIMEOUT_MS: '300',
  LOG_LEVEL: 'silent',
  IMMUNE_OPERATOR_TOKENS: `alice:operator:${hashOperatorToken(ALICE_TOKEN)},victor:viewer:${hashOperatorToken(VICTOR_TOKEN)}`,
};

export function sentinelConfig(env: Record<string, string> = {}): SentinelConfig {
  return loadConfig(SentinelEnv, { ...FAST_ENV, ...env });
}

/** One deployment: a subject prefix on the real NATS and a schema on the real PostgreSQL. */
export interface Deployment {
  prefix: string;
  natsUrl: string;
  store: TestStore;
  /** A client connection of the test itself (publishing vitals, reading KV and events). */
  bus: Bus;
  events: EventEnvelope[];
  connect(): Promise<Bus>;
  startSentinel(env?: Record<string, string>): Promise<RunningSentinel>;
  cleanup(): Promise<void>;
}

export interface RunningSentinel {
  sentinel: Sentinel;
  bus: Bus;
  stop(): Promise<void>;
}

export async function deployment(label = 'sen', env: Record<string, string> = {}): Promise<Deployment> {
  const natsUrl = await natsUrlForTests();
  const prefix = uniquePrefix(label);
  const partitions = Number(env.IMMUNE_PARTITIONS ?? FAST_ENV.IMMUNE_PARTITIONS);
  const store = await createTestStore();
  const connect = () => connectNatsBus({ url: natsUrl, prefix, partitions });
  const bus = await connect();
  const events: EventEnvelope[] = [];
  const eventsSub = await bus.subscribeEvents({ handler: async (event) => void events.push(event) });
  const running: RunningSentinel[] = [];
  return {
    prefix,
    natsUrl,
    store,
    bus,
    events,
    connect,
    async startSentinel(extra = {}) {
      const started = await startSentinel(store, connect, { ...env, ...extra });
      running.push(started);
      return started;
    },
    async cleanup() {
      for (const r of running.splice(0)) await r.stop().catch(() => undefined);
      await eventsSub.stop();
      await bus.drain();
      await removeTopology(natsUrl, prefix);
      await store.cleanup();
    },
  };
}

export async function startSentinel(
  store: Store,
  connect: () => Promise<Bus>,
  env: Record<string, string> = {},
  logger: Logger = createLogger({ service: 'test', level: 'silent' }),
  meter?: Meter,
): Promise<RunningSentinel> {
  const bus = await connect();
  const sentinel = new Sentinel({
    config: sentinelConfig(env),
    bus,
    store,
    logger,
    ...(meter === undefined ? {} : { meter }),
  });
  await sentinel.start();
  let stopped = false;
  return {
    sentinel,
    bus,
    async stop() {
      if (stopped) return;
      stopped = true;
      await sentinel.stopWork();
      await bus.drain();
      await sentinel.checkpoint();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
