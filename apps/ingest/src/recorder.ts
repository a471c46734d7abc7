import type { Bus, ConsumerLag, Subscription, VitalDelivery } from '@immune/bus';
import type { Vital } from '@immune/core';
import type { Logger } from '@immune/runtime';
import { instruments } from '@immune/runtime/telemetry';
import {
  type Db,
  insertVitals,
  UnstorableVitalError,
  VitalsWriter,
  type VitalsWriterStats,
} from '@immune/store';
import type { Meter } from '@opentelemetry/api';
import { sql } from 'kysely';
import { AgentDirectory } from './agent-directory.js';

export interface RecorderOptions {
  bus: Bus;
  db: Db;
  logger: Logger;
  meter?: Meter;
  /** Durable consumer name; replicas with the same name share the partitions' messages. */
  durable?: string;
  batchSize?: number;
  flushIntervalMs?: number;
  concurrency?: number;
  /** Per partition consumer; 0 or unset: the writer's maximum of held vitals, so one hot partition fills batches. */
  maxAckPending?: number;
  ackWaitMs?: number;
  /** Delay before a vital whose batch failed is offered again, ms. */
  retryDelayMs?: number;
  /** How often the lag gauges and agents' last_seen are refreshed, ms. */
  statsIntervalMs?: number;
  /** How often PostgreSQL is probed while it is down, ms. */
  probeIntervalMs?: number;
}

/**
 * A vital delivered this often was in a batch that kept failing although PostgreSQL answers: it is written
 * alone, so that one vital the database refuses cannot hold back the others of its batch forever.
 */
const ISOLATE_AFTER_DELIVERIES = 10;
/** JetStream's own give-up would lose vitals during a long outage; the stream's max age bounds them instead. */
const MAX_DELIVER = 1_000_000;

/**
 * The recorder: one durable consumer (per partition, as every vitals consumer of the bus) that writes every
 * vital into `vitals` through the batched `VitalsWriter` and acks a message only after its batch committed.
 *
 * While PostgreSQL is down it stops taking vitals: a failed batch closes a gate that every handler waits on,
 * the bounded in-flight queue fills, nothing more is pulled, and the messages wait in JetStream. A probe
 * reopens the gate when the database answers again, and redelivered vitals are deduplicated by the table's
 * (id, ts) key.
 */
export class Recorder {
  readonly #bus: Bus;
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #writer: VitalsWriter;
  readonly #agents: AgentDirectory;
  readonly #durable: string;
  readonly #maxPending: number;
  readonly #maxAckPending: number;
  readonly #ackWaitMs: number;
  readonly #retryDelayMs: number;
  readonly #statsIntervalMs: number;
  readonly #probeIntervalMs: number;
  readonly #gate = new Gate();
  readonly #admission: Admission;
  readonly #metrics: ReturnType<typeof recorderMetrics> | undefined;

  #subscription: Subscription | undefined;
  #statsTimer: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;
  #stopped = false;
  #lastStats: VitalsWriterStats | undefined;
  #lag: ConsumerLag = { pending: 0, ackPending: 0 };
  #dropped = 0;

  constructor(options: RecorderOptions) {
    this.#bus = options.bus;
    this.#db = options.db;
    this.#logger = options.logger;
    this.#durable = options.durable ?? 'recorder';
    const batchSize = options.batchSize ?? 2000;
    const concurrency = options.concurrency ?? 4;
    this.#maxPending = (concurrency + 2) * batchSize;
    this.#writer = new VitalsWriter(options.db, {
      batchSize,
      concurrency,
      maxPending: this.#maxPending,
      ...(options.flushIntervalMs === undefined ? {} : { flushIntervalMs: options.flushIntervalMs }),
      logger: options.logger,
    });
    this.#maxAckPending = options.maxAckPending || this.#maxPending;
    this.#admission = new Admission(this.#maxPending);
    this.#agents = new AgentDirectory(options.db);
    this.#ackWaitMs = options.ackWaitMs ?? 30_000;
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    this.#statsIntervalMs = options.statsIntervalMs ?? 5_000;
    this.#probeIntervalMs = options.probeIntervalMs ?? 250;
    this.#metrics = options.meter === undefined ? undefined : recorderMetrics(options.meter);
  }

  async start(): Promise<void> {
    this.#subscription = await this.#bus.consumeVitals({
      durable: this.#durable,
      // Handlers return as soon as a vital is handed to the writer; these slots mostly bound the vitals waiting
      // for the database gate or for room in the writer.
      maxInFlight: 1024,
      maxAckPending: this.#maxAckPending,
      ackWaitMs: this.#ackWaitMs,
      maxDeliver: MAX_DELIVER,
      retryDelayMs: this.#retryDelayMs,
      handler: (delivery) => this.#handle(delivery),
      onDropped: (reason, subject) => {
        this.#dropped++;
        this.#metrics?.dropped.add(1, { reason: 'invalid' });
        this.#logger.warn({ reason, subject }, 'recorder: dropped a message that is not a valid vital');
      },
    });
    this.#statsTimer = setInterval(() => void this.#refreshStats(), this.#statsIntervalMs);
    this.#statsTimer.unref();
    this.#logger.info(
      { durable: this.#durable, max_pending: this.#maxPending, max_ack_pending: this.#maxAckPending },
      'recorder: consuming vitals',
    );
  }

  /** Stops taking vitals and commits (and acks) every vital already taken. Call before the bus drains. */
  async stopWork(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#statsTimer);
    // Handlers waiting at a closed gate give up (their messages are redelivered to another instance).
    this.#gate.abandon();
    await this.#subscription?.stop();
    await this.#writer.close();
    await this.#agents.flushLastSeen().catch(() => undefined);
  }

  get databaseUp(): boolean {
    return this.#gate.open;
  }

  /** Vitals held in memory now, committed so far, and the consumer's backlog at the last refresh. */
  get stats() {
    return { ...this.#writer.stats, dropped: this.#dropped, lag: this.#lag, databaseUp: this.#gate.open };
  }

  /** Asks the broker for the backlog now. */
  async lag(): Promise<ConsumerLag> {
    this.#lag = await this.#bus.vitalsLag(this.#durable);
    return this.#lag;
  }

  async #handle(delivery: VitalDelivery): Promise<{ ackWhen: Promise<void> }> {
    await this.#gate.wait();
    const { vital } = delivery;
    if (delivery.deliveryCount > ISOLATE_AFTER_DELIVERIES) return { ackWhen: this.#writeAlone(vital) };
    await this.#admission.acquire();
    const committed = this.#writer.add(vital).finally(() => this.#admission.release());
    const registered = this.#agents.isKnown(vital.agent_id)
      ? undefined
      : this.#agents.ensure(new Map([[vital.agent_id, vital.ts]]));
    const ackWhen = Promise.all([committed, registered]).then(
      () => undefined,
      (error: unknown) => this.#failed(vital, error),
    );
    return { ackWhen };
  }

  async #failed(vital: Vital, error: unknown): Promise<void> {
    if (error instanceof UnstorableVitalError) {
      // Retrying can never succeed: ack it away, loudly.
      this.#drop(vital, error.reason);
      return;
    }
    this.#databaseDown(error);
    throw error;
  }

  async #writeAlone(vital: Vital): Promise<void> {
    try {
      await insertVitals(this.#db, [vital]);
      await this.#agents.ensure(new Map([[vital.agent_id, vital.ts]]));
    } catch (error) {
      if (await this.#reachable()) {
        this.#drop(
          vital,
          `refused by the database: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      this.#databaseDown(error);
      throw error;
    }
  }

  #drop(vital: Vital, reason: string): void {
    this.#dropped++;
    this.#metrics?.dropped.add(1, { reason: 'unstorable' });
    this.#logger.error({ vital_id: vital.id, agent_id: vital.agent_id, reason }, 'recorder: vital dropped');
  }

  #databaseDown(error: unknown): void {
    if (!this.#gate.open || this.#stopped) return;
    this.#gate.close();
    this.#metrics?.databaseUp.record(0);
    this.#logger.error(
      { err: error, event: 'database-down' },
      'recorder: writing vitals failed; pausing until PostgreSQL answers (vitals wait in JetStream)',
    );
    this.#probing ??= this.#probe().finally(() => {
      this.#probing = undefined;
    });
  }

  async #probe(): Promise<void> {
    let delay = this.#probeIntervalMs;
    while (!this.#stopped) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (await this.#reachable()) {
        this.#gate.reopen();
        this.#metrics?.databaseUp.record(1);
        this.#logger.info({ event: 'database-up' }, 'recorder: PostgreSQL answers again; resuming');
        return;
      }
      delay = Math.min(delay * 2, 5_000);
    }
  }

  async #reachable(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.#db);
      return true;
    } catch {
      return false;
    }
  }

  async #refreshStats(): Promise<void> {
    try {
      const lag = await this.lag();
      this.#metrics?.lag.record(lag.pending);
      this.#metrics?.ackPending.record(lag.ackPending);
    } catch (error) {
      this.#logger.debug({ err: error }, 'recorder: could not read the consumer lag');
    }
    const stats = this.#writer.stats;
    const last = this.#lastStats;
    this.#lastStats = stats;
    if (this.#metrics !== undefined) {
      this.#metrics.written.add(stats.written - (last?.written ?? 0));
      this.#metrics.duplicates.add(stats.duplicates - (last?.duplicates ?? 0));
      this.#metrics.failedBatches.add(stats.failedBatches - (last?.failedBatches ?? 0));
      this.#metrics.pending.record(stats.pending + stats.waiting);
      this.#metrics.databaseUp.record(this.#gate.open ? 1 : 0);
    }
    if (this.#gate.open) {
      await this.#agents.flushLastSeen().catch((error: unknown) => {
        this.#logger.debug({ err: error }, 'recorder: could not update agents last_seen');
      });
    }
  }
}

function recorderMetrics(meter: Meter) {
  const make = instruments(meter);
  return {
    written: make.counter('ingest_recorder_vitals_written', { description: 'Vitals committed as new rows' }),
    duplicates: make.counter('ingest_recorder_vitals_duplicate', {
      description: 'Redelivered vitals that were already stored',
    }),
    failedBatches: make.counter('ingest_recorder_batches_failed', {
      description: 'Insert batches that failed',
    }),
    dropped: make.counter('ingest_recorder_vitals_dropped', {
      description: 'Messages that can never be stored (not a vital, or refused by the database)',
    }),
    lag: make.gauge('ingest_recorder_consumer_lag', {
      description: 'Vitals in the stream not yet delivered to the recorder (all partitions)',
    }),
    ackPending: make.gauge('ingest_recorder_ack_pending', {
      description: 'Vitals delivered to the recorder and not yet committed',
    }),
    pending: make.gauge('ingest_recorder_writer_pending', { description: 'Vitals held by the batch writer' }),
    databaseUp: make.gauge('ingest_recorder_database_up', {
      description: '1 while PostgreSQL accepts writes, 0 while the recorder waits for it',
    }),
  };
}

/** Handlers wait here while the database is down. */
class Gate {
  #open = true;
  #abandoned = false;
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  get open(): boolean {
    return this.#open;
  }

  async wait(): Promise<void> {
    if (this.#open) return;
    if (this.#abandoned) throw new Error('recorder: stopping');
    await new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    this.#open = false;
  }

  reopen(): void {
    this.#open = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /** Shutting down: waiting handlers fail, so their messages are nak'ed instead of hanging the drain. */
  abandon(): void {
    this.#abandoned = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('recorder: stopping'));
  }
}

/** Bounds the vitals handed to the writer and not yet settled, so a backlog waits in JetStream, not here. */
class Admission {
  #used = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.#used < this.limit) {
      this.#used++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next();
    else this.#used--;
  }
}
