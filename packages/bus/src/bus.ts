import type { Vital } from '@immune/core';
import type { Static, TSchema } from 'typebox';
import type {
  BucketDef,
  CommandDef,
  EventData,
  EventEnvelope,
  EventType,
  VitalEnvelope,
} from './messages.js';
import type { Topology } from './subjects.js';

/** One vital handed to a consumer. Resolve the handler to ack it; throw to have it redelivered later. */
export interface VitalDelivery {
  vital: Vital;
  envelope: VitalEnvelope;
  partition: number;
  /** True when an earlier delivery of this message was not acked (crash, timeout, or a thrown handler). */
  redelivered: boolean;
  deliveryCount: number;
  /**
   * The message's position in the vitals stream (JetStream stream sequence; the embedded bus numbers its
   * stream the same way): unique per stored vital, increasing in publish order, and unchanged on
   * redelivery. An agent's vitals all go to one partition, so its sequences increase in the order it is
   * handed them, which lets a consumer recognise a redelivery of something it already applied.
   */
  streamSeq: number;
}

/**
 * What a vital handler may resolve with to ack later than it returns: the agent's next vital is handed out as
 * soon as the handler resolves, but this message is acked only when `ackWhen` resolves (for example once the
 * state it changed is checkpointed), and nak'ed for redelivery when it rejects. The broker's ack-pending limit
 * bounds how many such messages wait.
 */
export interface DeferredAck {
  ackWhen: Promise<void>;
}

/** Optional identity of a published event: a stable id makes a re-publish (after a crash) a JetStream duplicate. */
export interface PublishEventOptions {
  /** Envelope id and dedupe id (at most 128 characters); random by default. */
  id?: string;
  /** Envelope timestamp, epoch ms; now by default. */
  ts?: number;
}

export interface ConsumeVitalsOptions {
  /** Durable name; each partition gets its own durable consumer derived from it. */
  durable: string;
  /** Partitions this instance owns; all of them by default. */
  partitions?: readonly number[];
  /** At most this many handler calls in flight (unacked) at once across all partitions: the backpressure. */
  maxInFlight?: number;
  /**
   * How long the broker waits for an ack before redelivering, ms. Deliveries waiting on a deferred ack get
   * in-progress acks every third of it, so only a consumer that died leaves them to be redelivered.
   */
  ackWaitMs?: number;
  /**
   * Taking over a partition whose previous consumer died with unacked deliveries: hold newer messages until
   * those come back (after their ack wait), so every agent's vitals are still handled in stream order. The
   * sentinel needs it (its baselines depend on order); the recorder does not. NATS only: the embedded bus
   * does not outlive its process.
   */
  inOrderRecovery?: boolean;
  /** Deliveries after which a message that keeps failing is dropped (and reported through onDropped). */
  maxDeliver?: number;
  /** Delay before redelivering a message whose handler threw, ms. */
  retryDelayMs?: number;
  /**
   * Messages each partition's consumer may have delivered but not yet acked (JetStream `max_ack_pending`);
   * default twice `maxInFlight`, at least 64. A handler that defers acks to a batch commit (the ingest recorder)
   * needs at least its batch size here, or batches never fill and only its timer writes them.
   */
  maxAckPending?: number;
  /**
   * A handler with no I/O of its own (the sentinel's: its effects run behind the ack gate) may return its
   * `DeferredAck` directly, which spares a promise and a microtask per vital.
   */
  handler: (delivery: VitalDelivery) => Promise<void> | Promise<DeferredAck | undefined> | DeferredAck;
  /** A message that failed validation or maxDeliver; it is terminated, never retried. */
  onDropped?: (reason: string, subject: string) => void;
}

export interface SubscribeEventsOptions {
  /** Event types to receive; all by default. */
  types?: readonly EventType[];
  /** Only events about this agent. */
  agentId?: string;
  /**
   * With a durable name, delivery is at-least-once with explicit acks and survives restarts; without one, the
   * subscription is ephemeral and sees only events published while it is open.
   */
  durable?: string;
  /** For a new durable subscription: start from every retained event, or only new ones (default). */
  deliverFrom?: 'all' | 'new';
  maxInFlight?: number;
  handler: (event: EventEnvelope) => Promise<void>;
  onDropped?: (reason: string, subject: string) => void;
}

/** How far a durable vitals consumer is behind, summed over its partitions. */
export interface ConsumerLag {
  /** Messages in the stream the consumer has not been handed yet. */
  pending: number;
  /** Messages handed out and not yet acked. */
  ackPending: number;
}

/** A running consumer or subscription. */
export interface Subscription {
  /** Stops taking new messages, then waits for handlers in flight to finish and be acked. */
  stop(): Promise<void>;
}

export interface KvChange<T> {
  key: string;
  /** Undefined when the key was deleted. */
  value: T | undefined;
  revision: number;
}

export interface KvWatch {
  /** Resolves once every value that existed when the watch started has been delivered. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface KvBucket<T> {
  get(key: string): Promise<T | undefined>;
  put(key: string, value: T): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every current key and value. */
  entries(): Promise<Map<string, T>>;
  /** The value with its revision, for `compareAndSet`. */
  getEntry(key: string): Promise<{ value: T; revision: number } | undefined>;
  /**
   * Writes `value` only if the key is still at `revision` (0: only if it does not exist). Resolves to the new
   * revision, or undefined when another writer got there first (read again and retry).
   */
  compareAndSet(key: string, value: T, revision: number): Promise<number | undefined>;
  /** Current values first, then every change as it happens. */
  watch(onChange: (change: KvChange<T>) => void): Promise<KvWatch>;
}

export type BusStatus = 'connected' | 'reconnecting' | 'closed';

/**
 * What travels with a command besides its body. The operator token goes in a message header
 * (`Immune-Operator-Token` over NATS), never in the body: bodies end up in handlers, logs and events, the
 * header is read once by the handler's authorization check.
 */
export interface CommandContext {
  operatorToken: string | undefined;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** The operator's token (CLI: IMMUNE_OPERATOR_TOKEN; dashboard: the logged-in session's). */
  operatorToken?: string | undefined;
}

/** The NATS header that carries CommandContext.operatorToken. */
export const OPERATOR_TOKEN_HEADER = 'Immune-Operator-Token';

/**
 * The one way services do I/O with each other. Two implementations pass the same contract suite: NATS
 * (JetStream, KV, request/reply) and an embedded in-process bus for single-process mode.
 */
export interface Bus {
  readonly topology: Topology;
  readonly status: BusStatus;

  /** Publishes a vital with dedupe id = vital id. Fails fast with BusUnavailableError while disconnected. */
  publishVital(vital: Vital): Promise<void>;
  /**
   * Publishes a batch of vitals (dedupe id = vital id) pipelined: every publish goes out at once and the
   * batch waits once for all the acks. Resolves when the stream holds every one (stored, or recognised as a
   * duplicate); rejects with BusUnavailableError when any was not acknowledged in time (or the bus is
   * disconnected), and then some may be stored: a retry of the same vitals adds nothing twice.
   */
  publishVitals(vitals: readonly Vital[]): Promise<void>;
  consumeVitals(options: ConsumeVitalsOptions): Promise<Subscription>;
  /**
   * The backlog of the durable vitals consumer `durable` (as passed to `consumeVitals`) over `partitions`
   * (all by default); partitions whose consumer does not exist yet count as zero.
   */
  vitalsLag(durable: string, partitions?: readonly number[]): Promise<ConsumerLag>;

  publishEvent<T extends EventType>(
    type: T,
    agentId: string,
    data: EventData<T>,
    options?: PublishEventOptions,
  ): Promise<EventEnvelope<T>>;
  subscribeEvents(options: SubscribeEventsOptions): Promise<Subscription>;

  /**
   * Serves a command. Replicas of a service share the load through a queue group. The handler also gets the
   * request's context: the operator token it carried, which the handler verifies (the bus does not).
   */
  handleCommand<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    handler: (request: Static<Req>, context: CommandContext) => Promise<Static<Rep>>,
  ): Promise<Subscription>;
  request<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    request: Static<Req>,
    options?: RequestOptions,
  ): Promise<Static<Rep>>;

  kv<T extends TSchema>(bucket: BucketDef<T>): Promise<KvBucket<Static<T>>>;

  /** Stops every consumer (handlers in flight finish and are acked), flushes, and disconnects. */
  drain(): Promise<void>;
}
