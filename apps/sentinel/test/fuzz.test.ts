import { type Bus, connectNatsBus } from '@immune/bus';
import { natsUrlForTests, removeTopology, uniquePrefix } from '@immune/bus/testing';
import {
  createLogger,
  createPrometheusMetrics,
  httpLimits,
  loadConfig,
  type RunningService,
  runService,
} from '@immune/runtime';
import {
  abuseOperationalRoute,
  fuzzOperationalSurface,
  OPERATIONAL_FUZZ_LIMITS,
  OPERATIONAL_ROUTES,
  probeReady,
} from '@immune/runtime/testing';
import { createTestStore, type TestStore } from '@immune/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SentinelEnv } from '../src/config.js';
import { startSentinel } from '../src/service.js';
import { FAST_ENV } from './harness.js';

/**
 * Issue 19: the sentinel's HTTP surface (health, readiness, metrics: it has no API of its own, src/app.ts)
 * fuzzed and abused at the socket level, with the sentinel started as its main starts it on real NATS and
 * PostgreSQL. Never a 5xx; every refusal JSON naming the problem; readiness keeps being served.
 */

const RUNS = 400;
const LIMITS = OPERATIONAL_FUZZ_LIMITS;

let natsUrl: string;
let prefix: string;
let bus: Bus;
let store: TestStore;
let service: RunningService;
let url: string;
beforeAll(async () => {
  natsUrl = await natsUrlForTests();
  prefix = uniquePrefix('senfz');
  store = await createTestStore();
  bus = await connectNatsBus({ url: natsUrl, prefix, partitions: 4, name: 'sentinel-fuzz' });
  const config = loadConfig(SentinelEnv, { ...FAST_ENV, ...LIMITS, SENTINEL_PORT: '0', HOST: '127.0.0.1' });
  let port = 0;
  service = await runService({
    name: 'sentinel',
    logger: createLogger({ service: 'sentinel', level: 'silent' }),
    ownProcess: false,
    async start(context) {
      const metrics = createPrometheusMetrics({ serviceName: 'sentinel-fuzz' });
      ({ port } = await startSentinel(context, { config, bus, store, metrics }));
    },
  });
  url = `http://127.0.0.1:${port}`;
}, 60_000);
afterAll(async () => {
  await service?.stop();
  await bus?.drain();
  if (natsUrl) await removeTopology(natsUrl, prefix);
  await store?.cleanup();
});

const probe = () => probeReady(url);

describe('the sentinel over HTTP', () => {
  it(`answers ${RUNS} hostile requests to its operational routes and around them without a 5xx`, async () => {
    await probe();
    expect(await fuzzOperationalSurface(url, { runs: RUNS, seed: 1905 })).toBe(RUNS);
    await probe();
  }, 300_000);

  for (const [method, path] of [
    ['GET', '/readyz'],
    ['POST', '/metrics'],
  ] as const) {
    it(`survives raw-socket abuse of ${method} ${path} and stays ready`, async () => {
      expect(OPERATIONAL_ROUTES).toContain(path);
      const limits = httpLimits(loadConfig(SentinelEnv, LIMITS));
      const report = await abuseOperationalRoute(url, { method, path }, limits);
      expect(report.probesDuring).toBeGreaterThan(0);
    }, 120_000);
  }
});
