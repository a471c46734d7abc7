/**
 * The consuming side of the sentinel bench's latency part, in a process of its own as in a deployment, so the
 * bench's publisher and KV watcher do not share its event loop. `BENCH_CONSUMER=sentinel` runs the real
 * `Sentinel`; `floor` runs a consumer that judges nothing and writes the KV entry for any vital over 5,000
 * tokens (the floor NATS itself sets). Reports `{ ready }`, `{ processed, busy }` (busy: agents whose decisions
 * are still being written) to the parent over IPC and stops
 * on `{ stop: true }`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connectNatsBus, QUARANTINE_BUCKET, type QuarantineEntry } from '@immune/bus';
import { createLogger, loadConfig } from '@immune/runtime';
import { createRepositories } from '@immune/store';
import { createTestStore } from '@immune/store/testing';
import { SentinelEnv } from '../src/config.js';
import { Effects } from '../src/effects.js';
import { Sentinel } from '../src/sentinel.js';

const mode = process.env.BENCH_CONSUMER;
const natsUrl = process.env.BENCH_NATS_URL;
const prefix = process.env.BENCH_PREFIX;
if ((mode !== 'sentinel' && mode !== 'floor') || !natsUrl || !prefix) {
  throw new Error(
    'consumer-process: BENCH_CONSUMER (sentinel|floor), BENCH_NATS_URL and BENCH_PREFIX are required',
  );
}
const send = (message: object) => process.send?.(message);
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const bus = await connectNatsBus({ url: natsUrl, prefix });
let processed = () => 0;
let busy = () => 0;
let stop: () => Promise<void>;
let measuring = false;
/** Publish -> KV put acknowledged, ms, from the vital's `ts` (the bench stamps it when it publishes). */
const written: number[] = [];
const writtenFor = new Set<string>();
/** Only an agent's first entry counts, as for the bench's KV watcher (DRAINING, then QUARANTINED follows). */
const putAcked = (entry: Pick<QuarantineEntry, 'agent_id' | 'since'>) => {
  if (!measuring || writtenFor.has(entry.agent_id)) return;
  writtenFor.add(entry.agent_id);
  written.push(Date.now() - entry.since);
};

if (mode === 'floor') {
  const kv = await bus.kv(QUARANTINE_BUCKET);
  let seen = 0;
  processed = () => seen;
  const sub = await bus.consumeVitals({
    durable: 'floor',
    maxInFlight: 1024,
    handler: async ({ vital }) => {
      seen++;
      if (vital.total_tokens > 5_000) {
        await kv.put(vital.agent_id, {
          agent_id: vital.agent_id,
          state: 'DRAINING',
          reason: 'floor',
          since: vital.ts,
          by: 'sentinel',
        });
        putAcked({ agent_id: vital.agent_id, since: vital.ts });
      }
    },
  });
  stop = () => sub.stop();
} else {
  const store = await createTestStore();
  const real = new Effects({
    bus,
    quarantine: await bus.kv(QUARANTINE_BUCKET),
    repos: createRepositories(store.db),
    instanceId: 'bench',
  });
  // No fleet hold: the severe vital itself is the decision, so this measures the vital -> KV path. Half of
  // the bench's fleet turns sick within ten seconds, which the fleet correlator would rightly call an outage
  // and quarantine nobody; the fraction is raised so that the per-agent path is what gets measured.
  const sentinel = new Sentinel({
    config: loadConfig(SentinelEnv, {
      LOG_LEVEL: 'silent',
      SENTINEL_FLEET_HOLD_MS: '0',
      SENTINEL_FLEET_MIN_FRACTION: '0.9',
      // SENTINEL_* settings in the bench's environment reach the sentinel under test (SENTINEL_CHECKPOINT_MS...).
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('SENTINEL_'))),
    }),
    bus,
    store,
    logger: createLogger({ service: 'test', level: 'silent' }),
    effects: {
      enforce: async (decisions, options) => {
        await real.enforce(decisions, options);
        for (const d of decisions) if (d.kind === 'quarantine') putAcked(d.order);
      },
      record: (decisions, options) => real.record(decisions, options),
    },
  });
  await sentinel.start();
  processed = () => sentinel.processed;
  busy = () => sentinel.pendingEffects;
  stop = async () => {
    await sentinel.stopWork();
    send({ checkpoint: sentinel.lastCheckpoint });
    await store.cleanup();
  };
}

const progress = setInterval(() => send({ processed: processed(), busy: busy() }), 50);
send({ ready: true });
process.on('message', (message: { measure?: boolean; stop?: boolean }) => {
  if (message.measure) {
    loopDelay.enable();
    measuring = true;
  }
  if (!message.stop) return;
  loopDelay.disable();
  measuring = false;
  clearInterval(progress);
  void (async () => {
    send({
      loopDelay: {
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      },
      written,
    });
    await stop();
    await bus.drain();
    process.disconnect?.();
  })();
});
