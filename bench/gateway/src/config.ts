/** What a run measures and for how long; BENCH_QUICK=1 is the smoke run. */
const env = process.env;
const QUICK = env.BENCH_QUICK === '1';
const flag = (name: string, fallback: boolean) => (env[name] === undefined ? fallback : env[name] === '1');

export const config = {
  quick: QUICK,
  rates: [500, 1000, 2000],
  connections: 100,
  stepSeconds: QUICK ? 5 : 20,
  warmupSeconds: QUICK ? 2 : 5,
  maxSeconds: QUICK ? 5 : 20,
  ttfbRequests: QUICK ? 50 : 200,
  ttfbWarmup: 20,
  soakSeconds: Number(env.BENCH_SOAK_SECONDS ?? (QUICK ? 20 : 300)),
  soakRate: Number(env.BENCH_SOAK_RATE ?? 1000),
  /** Also run autocannon's own (bursty) rate limiting at each rate. */
  stock: flag('BENCH_STOCK', true),
  /** Diagnostic variants of our gateway (no HTTP span, no OpenTelemetry context, no vitals); see src/diagnostics. */
  variants: flag('BENCH_VARIANTS', true),
  /** The variants alternate over this many rounds; the report takes the median. */
  variantRounds: QUICK ? 1 : 3,
  /** Load generator on CPU 0, the servers we start on CPU 1 (`taskset`). */
  pin: flag('BENCH_PIN', false),
  /** Before starting, wait up to this long for the machine to be quiet (other tenants' work). */
  waitQuietSeconds: Number(env.BENCH_WAIT_QUIET_S ?? (QUICK ? 0 : 900)),
  natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
  writeDocs: flag('BENCH_WRITE_DOCS', !QUICK),
};

export type BenchConfig = typeof config;
