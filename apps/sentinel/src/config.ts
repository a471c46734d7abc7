import { BusEnv } from '@immune/bus';
import { type Config, OperatorTokensEnv, serviceEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

/**
 * Everything the sentinel reads from its environment. Detection thresholds are here so an operator can tune
 * them per deployment (and backtest a change first with `immune replay`).
 */
export const SentinelEnv = Type.Object({
  ...serviceEnv('SENTINEL_PORT', 4200),
  ...BusEnv,
  ...StoreEnv,
  /** Operator tokens (hashes): an operator's release, forwarded by the healer, is checked against them. */
  ...OperatorTokensEnv,
  /**
   * Partitions this instance owns: `all`, a list such as `0-7` or `0,2,4-6`, or `ordinal`: replica i of
   * SENTINEL_REPLICAS owns the partitions p with p mod SENTINEL_REPLICAS = i, where i is the number ending
   * SENTINEL_INSTANCE_ID (a StatefulSet pod's name, `immune-sentinel-2`).
   */
  SENTINEL_PARTITIONS: Type.String({
    pattern: '^(all|ordinal|[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)$',
    default: 'all',
  }),
  /** How many sentinel replicas share the partitions, with SENTINEL_PARTITIONS=ordinal. */
  SENTINEL_REPLICAS: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
  /** Names this instance in the fleet bucket; hostname + pid when unset. Stable ids survive restarts. */
  SENTINEL_INSTANCE_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
  /** Durable consumer name (one consumer per partition is derived from it). */
  SENTINEL_DURABLE: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'sentinel' }),
  /** Vitals handled at once across the owned partitions. */
  SENTINEL_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 65_536, default: 1024 }),
  /**
   * How long NATS waits for an ack before redelivering, ms. Acks follow checkpoints, so keep it well above
   * SENTINEL_CHECKPOINT_MS; after a crash, the vitals the dead instance held come back after this long.
   */
  SENTINEL_ACK_WAIT_MS: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 5_000 }),
  /** How often changed agents are checkpointed to PostgreSQL; a vital is acked after its checkpoint, ms. */
  SENTINEL_CHECKPOINT_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 500 }),
  /** How often the `baselines` read model (for dashboards) is refreshed from the checkpoints, ms. */
  SENTINEL_BASELINES_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  /** Width of a bucket of the σ history (`sigma_buckets`: worst σ and band per agent and metric), ms. */
  SENTINEL_SIGMA_BUCKET_MS: Type.Integer({ minimum: 1_000, maximum: 3_600_000, default: 10_000 }),
  /** How often the σ history held in memory is written to PostgreSQL (one batch), ms. */
  SENTINEL_SIGMA_FLUSH_MS: Type.Integer({ minimum: 50, maximum: 600_000, default: 5_000 }),
  /**
   * σ history buckets (one per agent and vital kind) held at most while PostgreSQL does not answer; the
   * oldest beyond are dropped and counted (`sentinel_sigma_buckets_dropped`).
   */
  SENTINEL_SIGMA_MAX_BUCKETS: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 200_000 }),
  /** How often this instance publishes its fleet tally, ms. */
  SENTINEL_FLEET_PUBLISH_MS: Type.Integer({ minimum: 50, maximum: 10_000, default: 500 }),
  SENTINEL_THRESHOLD_SIGMA: Type.Number({ exclusiveMinimum: 0, default: 3 }),
  SENTINEL_SEVERE_SIGMA: Type.Number({ exclusiveMinimum: 0, default: 5 }),
  SENTINEL_MIN_SAMPLES: Type.Integer({ minimum: 1, default: 15 }),
  SENTINEL_SUSPECT_WINDOW_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  SENTINEL_CONFIRM_ANOMALIES: Type.Integer({ minimum: 1, default: 3 }),
  SENTINEL_DRAIN_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  SENTINEL_PROBATION_MS: Type.Integer({ minimum: 0, default: 60_000 }),
  /** Clean vitals an agent on probation must show (besides the probation length) before it is HEALTHY. */
  SENTINEL_PROBATION_MIN_VITALS: Type.Integer({ minimum: 0, default: 10 }),
  /**
   * How long a suspicion waits for the fleet picture before it may escalate, ms (0: never waits). Unset: core's
   * default (`DEFAULT_TRIAGE_CONFIG.fleetHoldMs`), which the detection benchmark tunes.
   */
  SENTINEL_FLEET_HOLD_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  /**
   * Soft containment at the first severe, corroborated vital of a SUSPECTED agent: the quarantine entry clamps
   * its output tokens to its baseline and throttles it to its usual rate until the lifecycle decides.
   */
  SENTINEL_SOFT_CONTAINMENT: Type.Boolean({ default: true }),
  SENTINEL_FLEET_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000 }),
  SENTINEL_FLEET_MIN_AGENTS: Type.Integer({ minimum: 1, default: 5 }),
  SENTINEL_FLEET_MIN_FRACTION: Type.Number({ minimum: 0, maximum: 1, default: 0.2 }),
  /** Identical calls within the loop window that make a tool-call loop or retry storm. */
  SENTINEL_LOOP_REPEATS: Type.Integer({ minimum: 2, default: 5 }),
  SENTINEL_LOOP_WINDOW_MS: Type.Integer({ minimum: 1, default: 120_000 }),
});
export type SentinelConfig = Config<typeof SentinelEnv>;

/**
 * The partitions of replica `ordinal` of `replicas`, from its instance id (`immune-sentinel-2` → 2): each replica
 * derives its share from its StatefulSet ordinal, so scaling needs no per-replica configuration.
 */
export function ordinalPartitions(
  instanceId: string | undefined,
  replicas: number | undefined,
  total: number,
): number[] {
  const ordinal = Number(/-([0-9]+)$/.exec(instanceId ?? '')?.[1]);
  if (!Number.isInteger(ordinal))
    throw new RangeError(
      `SENTINEL_PARTITIONS=ordinal: SENTINEL_INSTANCE_ID must end in -<ordinal> (a StatefulSet pod name), got '${instanceId ?? ''}'`,
    );
  if (replicas === undefined)
    throw new RangeError(
      'SENTINEL_PARTITIONS=ordinal needs SENTINEL_REPLICAS (the StatefulSet replica count)',
    );
  if (ordinal >= replicas)
    throw new RangeError(
      `SENTINEL_PARTITIONS=ordinal: ordinal ${ordinal} is not below SENTINEL_REPLICAS=${replicas}`,
    );
  if (replicas > total)
    throw new RangeError(
      `SENTINEL_REPLICAS=${replicas} is more than the ${total} partitions: some would own none`,
    );
  return Array.from({ length: total }, (_, p) => p).filter((p) => p % replicas === ordinal);
}

/** The configured partitions, whichever form SENTINEL_PARTITIONS takes. */
export function ownedPartitions(
  config: Pick<SentinelConfig, 'SENTINEL_PARTITIONS' | 'SENTINEL_INSTANCE_ID' | 'SENTINEL_REPLICAS'>,
  total: number,
): number[] {
  if (config.SENTINEL_PARTITIONS === 'ordinal')
    return ordinalPartitions(config.SENTINEL_INSTANCE_ID, config.SENTINEL_REPLICAS, total);
  return parsePartitions(config.SENTINEL_PARTITIONS, total);
}

/** `all` or `0-3,7` → sorted partition numbers, each checked against the deployment's partition count. */
export function parsePartitions(spec: string, total: number): number[] {
  if (spec === 'all') return Array.from({ length: total }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    if (!(Number.isInteger(from) && Number.isInteger(to) && from <= to! && to! < total)) {
      throw new RangeError(`SENTINEL_PARTITIONS: '${part}' is not within 0..${total - 1}`);
    }
    for (let p = from; p <= to!; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}
