import { setMaxListeners } from 'node:events';
import type { Vital } from '@immune/core';
import type { Static, TSchema } from 'typebox';
import type {
  Bus,
  BusStatus,
  CommandContext,
  ConsumerLag,
  ConsumeVitalsOptions,
  KvBucket,
  KvChange,
  KvWatch,
  PublishEventOptions,
  RequestOptions,
  SubscribeEventsOptions,
  Subscription,
} from './bus.js';
import { assertRequest, callHandler, decodeReply, encodeReply } from './commands.js';
import { eventEnvelope, vitalEnvelope } from './envelopes.js';
import { BusClosedError, BusNoRespondersError, BusTimeoutError } from './errors.js';
import { KeyedQueue } from './keyed-queue.js';
import { type ConsumerConfig, type MemoryConsumer, MemoryStream } from './memory-stream.js';
import type { BucketDef, CommandDef, EventData, EventEnvelope, EventType } from './messages.js';
import { decodeJson, eventProcessor, type RawDelivery, vitalProcessor } from './processing.js';
import { createTopology, type Topology, type TopologyOptions } from './subjects.js';
import { SubscriptionSet } from './subscription-set.js';

export interface EmbeddedBusOptions extends TopologyOptions {
  /** Retained vitals (limits retention, like the NATS stream but bounded by count to protect memory). */
  maxVitals?: number;
  maxEvents?: number;
}

const HOUR = 3_600_000;

/**
 * The bus for single-process mode: the same interface and semantics as NATS (dedupe window, durable
 * consumers with ack/nak/redelivery, ephemeral subscriptions, request/reply, KV with watch) inside one
 * process. It passes the same contract suite. It is never the way to scale.
 */
export function createEmbeddedBus(options: EmbeddedBusOptions = {}): Bus {
  return new EmbeddedBus(createTopology(options), options);
}

class EmbeddedBus implements Bus {
  private closed = false;
  private readonly vitals: MemoryStream;
  private readonly events: MemoryStream;
  private readonly subscriptions = new SubscriptionSet();
  private readonly handlers = new Map<
    string,
    Array<(json: string, context: CommandContext) => Promise<string>>
  >();
  private readonly roundRobin = new Map<string, number>();
  private readonly buckets = new Map<string, MemoryKv>();

  constructor(
    readonly topology: Topology,
    options: EmbeddedBusOptions,
  ) {
    const duplicateWindowMs = 120_000;
    this.vitals = new MemoryStream({
      maxAgeMs: 24 * HOUR,
      maxMessages: options.maxVitals ?? 100_000,
      duplicateWindowMs,
    });
    this.events = new MemoryStream({
      maxAgeMs: 30 * 24 * HOUR,
      maxMessages: options.maxEvents ?? 50_000,
      duplicateWindowMs,
    });
  }

  get status(): BusStatus {
    return this.closed ? 'closed' : 'connected';
  }

  private assertOpen(): void {
    if (this.closed) throw new BusClosedError('bus: closed');
  }

  async publishVital(vital: Vital): Promise<void> {
    this.assertOpen();
    this.appendVital(vital);
  }

  async publishVitals(vitals: readonly Vital[]): Promise<void> {
    this.assertOpen();
    for (const vital of vitals) this.appendVital(vital);
  }

  private appendVital(vital: Vital): void {
    this.vitals.append(
      this.topology.vitalSubject(vital.agent_id),
      vital.id,
      JSON.stringify(vitalEnvelope(vital)),
    );
  }

  async publishEvent<T extends EventType>(
    type: T,
    agentId: string,
    data: EventData<T>,
    options?: PublishEventOptions,
  ): Promise<EventEnvelope<T>> {
    this.assertOpen();
    const envelope = eventEnvelope(type, agentId, data, options);
    this.events.append(this.topology.eventSubject(type, agentId), envelope.id, JSON.stringify(envelope));
    return envelope;
  }

  async consumeVitals(options: ConsumeVitalsOptions): Promise<Subscription> {
    this.assertOpen();
    const partitions = options.partitions ?? this.topology.allPartitions;
    const consumers = partitions.map((partition) => {
      const prefix = `${this.topology.prefix}.vitals.${partition}.`;
      return this.vitals.consumer(this.topology.partitionConsumer(options.durable, partition), {
        filter: (subject) => subject.startsWith(prefix),
        ackWaitMs: options.ackWaitMs ?? 30_000,
        maxDeliver: options.maxDeliver ?? 20,
        deliverFrom: 'all',
        ackRequired: true,
      });
    });
    const keyOf = (subject: string) => this.topology.parseVitalSubject(subject)?.agentId ?? subject;
    return this.run(
      consumers,
      options.maxInFlight ?? 256,
      vitalProcessor(this.topology, options),
      keyOf,
      false,
    );
  }

  async vitalsLag(durable: string, partitions?: readonly number[]): Promise<ConsumerLag> {
    const lag = { pending: 0, ackPending: 0 };
    for (const partition of partitions ?? this.topology.allPartitions) {
      const consumer = this.vitals.existingConsumer(this.topology.partitionConsumer(durable, partition));
      if (consumer === undefined) continue;
      const { pending, ackPending } = consumer.lag();
      lag.pending += pending;
      lag.ackPending += ackPending;
    }
    return lag;
  }

  async subscribeEvents(options: SubscribeEventsOptions): Promise<Subscription> {
    this.assertOpen();
    const types: ReadonlyArray<EventType | undefined> = options.types ?? [undefined];
    const durable = options.durable;
    const consumers = types.map((type) => {
      const config: ConsumerConfig = {
        filter: (subject) => {
          const parsed = this.topology.parseEventSubject(subject);
          return (
            parsed !== undefined &&
            (type === undefined || parsed.type === type) &&
            (options.agentId === undefined || parsed.agentId === options.agentId)
          );
        },
        ackWaitMs: 30_000,
        maxDeliver: 20,
        deliverFrom: durable !== undefined && options.deliverFrom === 'all' ? 'all' : 'new',
        ackRequired: durable !== undefined,
      };
      return this.events.consumer(
        durable === undefined ? undefined : this.topology.eventConsumer(durable, type),
        config,
      );
    });
    const keyOf = (subject: string) => this.topology.parseEventSubject(subject)?.agentId ?? subject;
    return this.run(
      consumers,
      options.maxInFlight ?? 64,
      eventProcessor(options),
      keyOf,
      durable === undefined,
    );
  }

  /** Pulls from each consumer only when the queue has a free slot: the same backpressure as over NATS. */
  private run(
    consumers: MemoryConsumer[],
    maxInFlight: number,
    process: (raw: RawDelivery) => Promise<void>,
    keyOf: (subject: string) => string,
    ephemeral: boolean,
  ): Subscription {
    const queue = new KeyedQueue(maxInFlight);
    const abort = new AbortController();
    // One listener per partition loop waits on this signal; 16 partitions exceed Node's default warning level.
    setMaxListeners(0, abort.signal);
    const loops = consumers.map(async (consumer) => {
      while (!abort.signal.aborted) {
        // Take first, then wait for a slot: a loop must not hold a slot while its partition is empty. At most
        // one message per partition waits here, like the pull buffer of a NATS consumer.
        const delivery = await consumer.next(abort.signal);
        if (!delivery) break;
        await queue.acquire();
        queue.run(keyOf(delivery.subject), () =>
          process({
            subject: delivery.subject,
            text: () => delivery.json,
            deliveryCount: delivery.deliveryCount,
            redelivered: delivery.redelivered,
            streamSeq: delivery.seq,
            ack: delivery.ack,
            nak: delivery.nak,
            term: delivery.term,
            working: delivery.working,
            // In memory there is no message to let go of: the delivery's own verbs are already small.
            detach: () => ({
              ack: delivery.ack,
              nak: delivery.nak,
              term: delivery.term,
              working: delivery.working,
            }),
          }),
        );
      }
    });
    return this.subscriptions.track(async () => {
      abort.abort();
      await Promise.all(loops);
      await queue.idle();
      for (const consumer of consumers) {
        if (ephemeral) consumer.close();
        else consumer.detach();
      }
    });
  }

  async handleCommand<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    handler: (request: Static<Req>, context: CommandContext) => Promise<Static<Rep>>,
  ): Promise<Subscription> {
    this.assertOpen();
    const subject = this.topology.commandSubject(command.service, command.verb);
    const serve = async (json: string, context: CommandContext) =>
      encodeReply(await callHandler(command, decodeJson(json), handler, context));
    const list = this.handlers.get(subject) ?? [];
    list.push(serve);
    this.handlers.set(subject, list);
    return this.subscriptions.track(async () => {
      const current = this.handlers.get(subject) ?? [];
      this.handlers.set(
        subject,
        current.filter((h) => h !== serve),
      );
    });
  }

  async request<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    request: Static<Req>,
    options: RequestOptions = {},
  ): Promise<Static<Rep>> {
    this.assertOpen();
    assertRequest(command, request);
    const subject = this.topology.commandSubject(command.service, command.verb);
    const handlers = this.handlers.get(subject) ?? [];
    if (handlers.length === 0)
      throw new BusNoRespondersError(`bus: nobody serves ${command.service}.${command.verb}`);
    // Queue-group semantics: each request goes to one handler, in turn.
    const turn = (this.roundRobin.get(subject) ?? 0) % handlers.length;
    this.roundRobin.set(subject, turn + 1);
    const timeoutMs = options.timeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BusTimeoutError(`bus: ${command.service}.${command.verb} got no reply in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([
        handlers[turn]!(JSON.stringify(request), { operatorToken: options.operatorToken || undefined }),
        timeout,
      ]);
      return decodeReply(command, decodeJson(reply));
    } finally {
      clearTimeout(timer);
    }
  }

  async kv<T extends TSchema>(bucket: BucketDef<T>): Promise<KvBucket<Static<T>>> {
    this.assertOpen();
    let store = this.buckets.get(bucket.name);
    if (!store) {
      store = new MemoryKv();
      this.buckets.set(bucket.name, store);
    }
    return new EmbeddedKvBucket(store, bucket);
  }

  async drain(): Promise<void> {
    if (this.closed) return;
    await this.subscriptions.stopAll();
    this.closed = true;
  }
}

class MemoryKv {
  revision = 0;
  readonly values = new Map<string, { json: string; revision: number }>();
  readonly watchers = new Set<(key: string, json: string | undefined, revision: number) => void>();

  write(key: string, json: string | undefined): void {
    this.revision++;
    if (json === undefined) this.values.delete(key);
    else this.values.set(key, { json, revision: this.revision });
    const revision = this.revision;
    // Watchers hear about changes asynchronously, as they would over the network.
    for (const watcher of this.watchers) queueMicrotask(() => watcher(key, json, revision));
  }
}

class EmbeddedKvBucket<T extends TSchema> implements KvBucket<Static<T>> {
  constructor(
    private readonly store: MemoryKv,
    private readonly def: BucketDef<T>,
  ) {}

  private decode(json: string): Static<T> | undefined {
    const value: unknown = JSON.parse(json);
    return this.def.checker.check(value) ? value : undefined;
  }

  async get(key: string): Promise<Static<T> | undefined> {
    const entry = this.store.values.get(key);
    return entry === undefined ? undefined : this.decode(entry.json);
  }

  async put(key: string, value: Static<T>): Promise<void> {
    if (!this.def.checker.check(value)) {
      throw new TypeError(`bus: value for ${this.def.name}/${key} does not match its schema`);
    }
    this.store.write(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.store.write(key, undefined);
  }

  async getEntry(key: string): Promise<{ value: Static<T>; revision: number } | undefined> {
    const entry = this.store.values.get(key);
    const value = entry === undefined ? undefined : this.decode(entry.json);
    return value === undefined ? undefined : { value, revision: entry!.revision };
  }

  async compareAndSet(key: string, value: Static<T>, revision: number): Promise<number | undefined> {
    if (!this.def.checker.check(value)) {
      throw new TypeError(`bus: value for ${this.def.name}/${key} does not match its schema`);
    }
    if ((this.store.values.get(key)?.revision ?? 0) !== revision) return undefined;
    this.store.write(key, JSON.stringify(value));
    return this.store.revision;
  }

  async entries(): Promise<Map<string, Static<T>>> {
    const result = new Map<string, Static<T>>();
    for (const [key, entry] of this.store.values) {
      const value = this.decode(entry.json);
      if (value !== undefined) result.set(key, value);
    }
    return result;
  }

  async watch(onChange: (change: KvChange<Static<T>>) => void): Promise<KvWatch> {
    let active = true;
    const snapshot = [...this.store.values];
    const watcher = (key: string, json: string | undefined, revision: number) => {
      if (active) onChange({ key, value: json === undefined ? undefined : this.decode(json), revision });
    };
    const ready = Promise.resolve().then(() => {
      for (const [key, entry] of snapshot) watcher(key, entry.json, entry.revision);
    });
    // Registered after the snapshot is taken, so a change is heard exactly once.
    this.store.watchers.add(watcher);
    return {
      ready,
      stop: async () => {
        active = false;
        this.store.watchers.delete(watcher);
      },
    };
  }
}
