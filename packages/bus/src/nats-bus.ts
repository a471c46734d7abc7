import type { Vital } from '@immune/core';
import {
  AckPolicy,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  AuthorizationError,
  connect,
  headers,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  nanos,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { Static, TSchema } from 'typebox';
import {
  type Bus,
  type BusStatus,
  type CommandContext,
  type ConsumerLag,
  type ConsumeVitalsOptions,
  type KvBucket,
  type KvChange,
  type KvWatch,
  OPERATOR_TOKEN_HEADER,
  type PublishEventOptions,
  type RequestOptions,
  type SubscribeEventsOptions,
  type Subscription,
} from './bus.js';
import { assertRequest, callHandler, decodeReply, encodeReply } from './commands.js';
import { eventEnvelope, vitalEnvelope } from './envelopes.js';
import {
  BusAuthError,
  BusClosedError,
  BusNoRespondersError,
  BusTimeoutError,
  BusUnavailableError,
} from './errors.js';
import { InOrderRecovery } from './in-order-recovery.js';
import { KeyedQueue } from './keyed-queue.js';
import type { BucketDef, CommandDef, CommandReply, EventData, EventEnvelope, EventType } from './messages.js';
import type { NatsSecurity } from './nats-security.js';
import { PipelinedPublisher } from './pipelined-publisher.js';
import {
  type Decoded,
  decodeJson,
  eventProcessor,
  errorMessage as message,
  type RawDelivery,
  type Settler,
  vitalProcessor,
} from './processing.js';
import { createTopology, decodeToken, encodeToken, type Topology, type TopologyOptions } from './subjects.js';
import { SubscriptionSet } from './subscription-set.js';

export interface NatsBusOptions extends TopologyOptions {
  /** nats://host:port, or several separated by commas. */
  url: string;
  /** Connection name shown in NATS monitoring. */
  name?: string;
  /** How long a JetStream publish may wait for its ack before it counts as unavailable, ms. */
  publishTimeoutMs?: number;
  /** Stream replicas (1 for a single server). */
  replicas?: number;
  /** Retention of the vitals stream, ms (default 24 h). */
  vitalsMaxAgeMs?: number;
  /** Retention of the events stream, ms (default 30 days). */
  eventsMaxAgeMs?: number;
  /** How long the first connection may take before `connectNatsBus` gives up, ms. */
  connectTimeoutMs?: number;
  /** Credentials and TLS, from `natsSecurity(config)`; unset: anonymous, TLS only if the server asks. */
  security?: NatsSecurity;
}

const HOUR = 3_600_000;
const DUPLICATE_WINDOW_MS = 120_000;
const TEXT = new TextEncoder();

/**
 * Sends a command's reply without ever throwing: `respond` throws synchronously when the reply is larger than
 * the server's max_payload or the connection is closing, and a throw here would be an unhandled rejection,
 * which a service treats as fatal. A reply that cannot be sent becomes a `reply_failed` error reply, so the
 * caller learns why instead of timing out; when even that fails (the connection is gone), the caller times out.
 */
function tokenHeaders(token: string) {
  const h = headers();
  h.set(OPERATOR_TOKEN_HEADER, token);
  return h;
}

function respond(msg: Msg, reply: CommandReply<unknown>): void {
  if (!msg.reply) return;
  try {
    msg.respond(TEXT.encode(encodeReply(reply)));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    try {
      msg.respond(
        TEXT.encode(
          encodeReply({
            ok: false,
            error: { code: 'reply_failed', message: `the reply was not sent: ${message}` },
          }),
        ),
      );
    } catch {
      // Nothing reaches the caller any more; its request times out.
    }
  }
}
const JSON_DECODER = new TextDecoder();

/** Connects to NATS, provisions streams and buckets idempotently, and returns the bus. */
export async function connectNatsBus(options: NatsBusOptions): Promise<Bus> {
  const topology = createTopology(options);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.url.split(',').map((s) => s.trim()),
      name: options.name ?? 'immune',
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.connectTimeoutMs ?? 5_000,
      pingInterval: 10_000,
      // Async traces build an Error (a captured stack) for every publish and request; on the gateway's hot path
      // that was the largest single cost of publishing a vital. Our own errors say which subject failed.
      noAsyncTraces: true,
      ...(options.security?.authenticator ? { authenticator: options.security.authenticator } : {}),
      ...(options.security?.tls ? { tls: options.security.tls } : {}),
    });
  } catch (error) {
    throw connectError(error, options);
  }
  const jsm = await jetstreamManager(nc);
  await provisionStreams(jsm, topology, options);
  return new NatsBus(nc, jetstream(nc), jsm, topology, options);
}

/**
 * What a failed first connection means. Refused credentials and TLS failures are `BusAuthError`s with the
 * method in the message (retrying would not help, so the service stops at start); the rest is unavailability.
 * No secret is in any of them: the server's message names none, and the URL loses its userinfo.
 */
function connectError(error: unknown, options: NatsBusOptions): Error {
  const where = `NATS at ${redactUrl(options.url)}`;
  const method = options.security?.method ?? 'none';
  if (error instanceof AuthorizationError || /authorization violation|authentication/i.test(message(error))) {
    const hint =
      method === 'none'
        ? 'it requires authentication and none is configured (set NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE)'
        : `it refused this service's ${method} credentials`;
    return new BusAuthError(`bus: ${where}: ${hint} (${message(error)})`, { cause: error });
  }
  if (/tls|certificate|self.signed|ssl/i.test(message(error))) {
    return new BusAuthError(
      `bus: ${where}: TLS failed (${message(error)}); check NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE`,
      { cause: error },
    );
  }
  // A server that requires a client certificate drops a handshake without one; the client only sees a timeout.
  const tls = options.security?.tls;
  const hint =
    tls !== undefined && tls.cert === undefined
      ? ' (if the server requires client certificates, set NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE)'
      : '';
  return new BusUnavailableError(`bus: cannot connect to ${where}: ${message(error)}${hint}`, {
    cause: error,
  });
}

async function provisionStreams(
  jsm: JetStreamManager,
  topology: Topology,
  options: NatsBusOptions,
): Promise<void> {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? 1,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  await ensureStream(jsm, {
    ...common,
    name: topology.vitalsStream,
    subjects: [topology.vitalsWildcard],
    max_age: nanos(options.vitalsMaxAgeMs ?? 24 * HOUR),
  });
  await ensureStream(jsm, {
    ...common,
    name: topology.eventsStream,
    subjects: [topology.eventsWildcard],
    max_age: nanos(options.eventsMaxAgeMs ?? 30 * 24 * HOUR),
  });
}

type StreamConfig = Parameters<JetStreamManager['streams']['add']>[0] & { name: string };

async function ensureStream(jsm: JetStreamManager, config: StreamConfig): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.streams.add(config);
      return;
    } catch (addError) {
      // Another replica created it between our info and add: fall through to the update.
      if (!String(addError).includes('already in use')) throw addError;
    }
  }
  const { name, ...rest } = config;
  await jsm.streams.update(name, rest);
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError
    ? error.status === 404 ||
        error.code === JetStreamApiCodes.StreamNotFound ||
        error.code === JetStreamApiCodes.ConsumerNotFound
    : false;
}

class NatsBus implements Bus {
  private statusValue: BusStatus = 'connected';
  private readonly subscriptions = new SubscriptionSet();
  private readonly kvs = new Map<string, Promise<KV>>();
  private draining = false;
  private readonly batchPublisher: PipelinedPublisher;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly topology: Topology,
    private readonly options: NatsBusOptions,
  ) {
    this.batchPublisher = new PipelinedPublisher(nc);
    void this.watchStatus();
  }

  get status(): BusStatus {
    return this.statusValue;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnecting') this.statusValue = 'reconnecting';
      else if (status.type === 'reconnect') this.statusValue = 'connected';
      else if (status.type === 'close') this.statusValue = 'closed';
    }
    this.statusValue = 'closed';
  }

  private assertWritable(): void {
    if (this.draining || this.nc.isClosed()) throw new BusClosedError('bus: closed');
    if (this.statusValue !== 'connected')
      throw new BusUnavailableError('bus: NATS is unreachable (reconnecting)');
  }

  async publishVital(vital: Vital): Promise<void> {
    this.assertWritable();
    await this.jsPublish(this.topology.vitalSubject(vital.agent_id), vitalEnvelope(vital), vital.id);
  }

  async publishVitals(vitals: readonly Vital[]): Promise<void> {
    if (vitals.length === 0) return;
    this.assertWritable();
    const messages = vitals.map((vital) => ({
      subject: this.topology.vitalSubject(vital.agent_id),
      data: TEXT.encode(JSON.stringify(vitalEnvelope(vital))),
      msgId: vital.id,
    }));
    try {
      await this.batchPublisher.publish(messages, this.options.publishTimeoutMs ?? 2_000);
    } catch (error) {
      if (this.nc.isClosed()) throw new BusClosedError('bus: closed', { cause: error });
      throw new BusUnavailableError(`bus: publishing ${vitals.length} vitals failed: ${message(error)}`, {
        cause: error,
      });
    }
  }

  async publishEvent<T extends EventType>(
    type: T,
    agentId: string,
    data: EventData<T>,
    options?: PublishEventOptions,
  ): Promise<EventEnvelope<T>> {
    this.assertWritable();
    const envelope = eventEnvelope(type, agentId, data, options);
    await this.jsPublish(this.topology.eventSubject(type, agentId), envelope, envelope.id);
    return envelope;
  }

  private async jsPublish(subject: string, body: unknown, msgID: string): Promise<void> {
    try {
      await this.js.publish(subject, TEXT.encode(JSON.stringify(body)), {
        msgID,
        timeout: this.options.publishTimeoutMs ?? 2_000,
      });
    } catch (error) {
      if (this.nc.isClosed()) throw new BusClosedError('bus: closed', { cause: error });
      throw new BusUnavailableError(`bus: publish to ${subject} failed: ${message(error)}`, { cause: error });
    }
  }

  async consumeVitals(options: ConsumeVitalsOptions): Promise<Subscription> {
    const partitions = options.partitions ?? this.topology.allPartitions;
    const maxInFlight = options.maxInFlight ?? 256;
    const maxDeliver = options.maxDeliver ?? 20;
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    const queue = new KeyedQueue(maxInFlight);
    const consumers: ConsumerMessages[] = [];
    const recoveries: Array<InOrderRecovery<JsMsg> | undefined> = [];
    const names: string[] = [];
    for (const partition of partitions) {
      const name = this.topology.partitionConsumer(options.durable, partition);
      const before = await this.ensureConsumer(this.topology.vitalsStream, name, {
        filter_subject: this.topology.partitionFilter(partition),
        ack_wait: nanos(ackWaitMs),
        max_deliver: maxDeliver,
        max_ack_pending: options.maxAckPending ?? Math.max(maxInFlight * 2, 64),
        deliver_policy: DeliverPolicy.All,
      });
      names.push(name);
      recoveries.push(
        options.inOrderRecovery && before !== undefined && before.num_ack_pending > 0
          ? new InOrderRecovery<JsMsg>(
              { deliveredSeq: before.delivered.stream_seq, ackPending: before.num_ack_pending },
              (msg) => msg.working(),
              Math.max(1, Math.floor(ackWaitMs / 3)),
            )
          : undefined,
      );
      const consumer = await this.js.consumers.get(this.topology.vitalsStream, name);
      consumers.push(await consumer.consume({ max_messages: Math.min(maxInFlight, 512) }));
    }
    const process = vitalProcessor(this.topology, options);
    const keyOf = (msg: JsMsg) => this.topology.parseVitalSubject(msg.subject)?.agentId ?? msg.subject;
    const loops = consumers.map((messages, i) =>
      recoveries[i] === undefined
        ? this.pump(messages, queue, process, keyOf)
        : this.pumpRecovering(messages, queue, process, keyOf, recoveries[i]!, names[i]!, ackWaitMs),
    );
    return this.track(consumers, loops, queue, () => {
      for (const recovery of recoveries) recovery?.stop();
    });
  }

  async vitalsLag(durable: string, partitions?: readonly number[]): Promise<ConsumerLag> {
    const infos = await Promise.all(
      (partitions ?? this.topology.allPartitions).map((partition) =>
        this.jsm.consumers
          .info(this.topology.vitalsStream, this.topology.partitionConsumer(durable, partition))
          .catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          }),
      ),
    );
    const lag = { pending: 0, ackPending: 0 };
    for (const info of infos) {
      lag.pending += info?.num_pending ?? 0;
      lag.ackPending += info?.num_ack_pending ?? 0;
    }
    return lag;
  }

  async subscribeEvents(options: SubscribeEventsOptions): Promise<Subscription> {
    const types: ReadonlyArray<EventType | undefined> = options.types ?? [undefined];
    const maxInFlight = options.maxInFlight ?? 64;
    const queue = new KeyedQueue(maxInFlight);
    const consumers: ConsumerMessages[] = [];
    for (const type of types) {
      const filter =
        type === undefined && options.agentId === undefined
          ? this.topology.eventsWildcard
          : this.topology.eventFilter(type, options.agentId);
      if (options.durable === undefined) {
        const ordered = await this.js.consumers.get(this.topology.eventsStream, {
          // A single string keeps this on NATS 2.9; an array means the 2.10 multi-filter API.
          filter_subjects: filter,
          deliver_policy: DeliverPolicy.New,
        });
        consumers.push(await ordered.consume({ max_messages: Math.min(maxInFlight, 256) }));
      } else {
        const name = this.topology.eventConsumer(options.durable, type);
        await this.ensureConsumer(this.topology.eventsStream, name, {
          filter_subject: filter,
          ack_wait: nanos(30_000),
          max_deliver: 20,
          max_ack_pending: Math.max(maxInFlight * 2, 64),
          deliver_policy: options.deliverFrom === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
        });
        const consumer = await this.js.consumers.get(this.topology.eventsStream, name);
        consumers.push(await consumer.consume({ max_messages: Math.min(maxInFlight, 256) }));
      }
    }
    const process = eventProcessor(options);
    const loops = consumers.map((messages) =>
      this.pump(
        messages,
        queue,
        process,
        (msg) => this.topology.parseEventSubject(msg.subject)?.agentId ?? msg.subject,
      ),
    );
    return this.track(consumers, loops, queue);
  }

  private async ensureConsumer(
    stream: string,
    name: string,
    config: {
      filter_subject: string;
      ack_wait: number;
      max_deliver: number;
      max_ack_pending: number;
      deliver_policy: DeliverPolicy;
    },
  ): Promise<ConsumerInfo | undefined> {
    try {
      const info = await this.jsm.consumers.info(stream, name);
      if (info.config.filter_subject !== config.filter_subject) {
        throw new Error(`bus: consumer ${name} exists with filter ${info.config.filter_subject}`);
      }
      await this.jsm.consumers.update(stream, name, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
      });
      // What the consumer looked like before this instance took it over (in-order recovery reads it).
      return info;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ...config });
      return undefined;
    }
  }

  /** Takes messages only when the queue has a free slot, so buffering stays bounded by the pull size. */
  private async pump(
    messages: ConsumerMessages,
    queue: KeyedQueue,
    process: (raw: RawDelivery) => Promise<void>,
    keyOf: (msg: JsMsg) => string,
  ): Promise<void> {
    for await (const msg of messages) {
      await queue.acquire();
      queue.run(keyOf(msg), () => process(rawDelivery(msg, this.nc)));
    }
  }

  /**
   * `pump` for a partition taken over with unacked deliveries (see InOrderRecovery): messages newer than the
   * take-over wait until the older ones are back, then go to the queue in arrival order. Every dispatch goes
   * through one chain, so released messages and later arrivals keep their order. The ack floor is polled as
   * well, for the case where the previous owner was still alive and settled its deliveries itself.
   */
  private async pumpRecovering(
    messages: ConsumerMessages,
    queue: KeyedQueue,
    process: (raw: RawDelivery) => Promise<void>,
    keyOf: (msg: JsMsg) => string,
    recovery: InOrderRecovery<JsMsg>,
    name: string,
    ackWaitMs: number,
  ): Promise<void> {
    let chain = Promise.resolve();
    const dispatch = (msg: JsMsg): Promise<void> => {
      chain = chain.then(async () => {
        await queue.acquire();
        queue.run(keyOf(msg), () => process(rawDelivery(msg, this.nc)));
      });
      return chain;
    };
    recovery.onRelease((held) => {
      for (const msg of held) void dispatch(msg);
    });
    const poll = setInterval(
      () => {
        this.jsm.consumers
          .info(this.topology.vitalsStream, name)
          .then((info) => recovery.floorReached(info.ack_floor.stream_seq))
          .catch(() => undefined);
      },
      Math.max(500, Math.floor(ackWaitMs / 4)),
    );
    poll.unref();
    try {
      for await (const msg of messages) {
        if (recovery.recovering && recovery.hold(msg.info.streamSequence, msg)) continue;
        if (!recovery.recovering) clearInterval(poll);
        await dispatch(msg);
      }
    } finally {
      clearInterval(poll);
      recovery.stop();
    }
  }

  private track(
    consumers: ConsumerMessages[],
    loops: Promise<void>[],
    queue: KeyedQueue,
    beforeClose?: () => void,
  ): Subscription {
    return this.subscriptions.track(async () => {
      beforeClose?.();
      await Promise.all(consumers.map((c) => c.close().catch(() => undefined)));
      await Promise.all(loops.map((l) => l.catch(() => undefined)));
      await queue.idle();
    });
  }

  async handleCommand<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    handler: (request: Static<Req>, context: CommandContext) => Promise<Static<Rep>>,
  ): Promise<Subscription> {
    const subject = this.topology.commandSubject(command.service, command.verb);
    const inFlight = new Set<Promise<void>>();
    const sub = this.nc.subscribe(subject, {
      queue: encodeToken(command.service),
      callback: (error, msg) => {
        if (error) return;
        const token = msg.headers?.get(OPERATOR_TOKEN_HEADER);
        const context = { operatorToken: token === undefined || token === '' ? undefined : token };
        const work = callHandler(command, decodeBytes(msg.data), handler, context).then((reply) =>
          respond(msg, reply),
        );
        inFlight.add(work);
        work.then(() => inFlight.delete(work));
      },
    });
    return this.subscriptions.track(async () => {
      sub.unsubscribe();
      await Promise.allSettled(inFlight);
    });
  }

  async request<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    request: Static<Req>,
    options: RequestOptions = {},
  ): Promise<Static<Rep>> {
    if (this.draining || this.nc.isClosed()) throw new BusClosedError('bus: closed');
    assertRequest(command, request);
    const subject = this.topology.commandSubject(command.service, command.verb);
    const timeout = options.timeoutMs ?? 5_000;
    try {
      const reply = await this.nc.request(subject, TEXT.encode(JSON.stringify(request)), {
        timeout,
        ...(options.operatorToken === undefined ? {} : { headers: tokenHeaders(options.operatorToken) }),
      });
      return decodeReply(command, decodeBytes(reply.data));
    } catch (error) {
      if (error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders())) {
        throw new BusNoRespondersError(`bus: nobody serves ${command.service}.${command.verb}`, {
          cause: error,
        });
      }
      if (
        error instanceof TimeoutError ||
        (error instanceof RequestError && error.cause instanceof TimeoutError)
      ) {
        throw new BusTimeoutError(`bus: ${command.service}.${command.verb} got no reply in ${timeout} ms`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async kv<T extends TSchema>(bucket: BucketDef<T>): Promise<KvBucket<Static<T>>> {
    const name = this.topology.bucketName(bucket.name);
    let opened = this.kvs.get(name);
    if (!opened) {
      opened = new Kvm(this.js).create(name, {
        history: bucket.history,
        replicas: this.options.replicas ?? 1,
        ...(bucket.maxAgeMs === undefined ? {} : { ttl: bucket.maxAgeMs }),
      });
      this.kvs.set(name, opened);
    }
    return new NatsKvBucket(await opened, bucket);
  }

  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    await this.subscriptions.stopAll();
    this.batchPublisher.close();
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

class NatsKvBucket<T extends TSchema> implements KvBucket<Static<T>> {
  constructor(
    private readonly kv: KV,
    private readonly def: BucketDef<T>,
  ) {}

  private decode(key: string, data: Uint8Array): Static<T> | undefined {
    const decoded = decodeBytes(data);
    if (decoded.ok && this.def.checker.check(decoded.value)) return decoded.value;
    // A value written by something else (or an older version) is treated as absent rather than crashing the
    // watcher that enforces quarantine.
    process.emitWarning(`bus: ignoring invalid value for key '${key}' in bucket ${this.def.name}`);
    return undefined;
  }

  async get(key: string): Promise<Static<T> | undefined> {
    const entry = await this.kv.get(encodeToken(key));
    if (entry?.operation !== 'PUT') return undefined;
    return this.decode(key, entry.value);
  }

  async put(key: string, value: Static<T>): Promise<void> {
    if (!this.def.checker.check(value)) {
      throw new TypeError(`bus: value for ${this.def.name}/${key} does not match its schema`);
    }
    await this.kv.put(encodeToken(key), TEXT.encode(JSON.stringify(value)));
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete(encodeToken(key));
  }

  async getEntry(key: string): Promise<{ value: Static<T>; revision: number } | undefined> {
    const entry = await this.kv.get(encodeToken(key));
    if (entry?.operation !== 'PUT') return undefined;
    const value = this.decode(key, entry.value);
    return value === undefined ? undefined : { value, revision: entry.revision };
  }

  async compareAndSet(key: string, value: Static<T>, revision: number): Promise<number | undefined> {
    if (!this.def.checker.check(value)) {
      throw new TypeError(`bus: value for ${this.def.name}/${key} does not match its schema`);
    }
    const data = TEXT.encode(JSON.stringify(value));
    try {
      return revision === 0
        ? await this.kv.create(encodeToken(key), data)
        : await this.kv.update(encodeToken(key), data, revision);
    } catch (error) {
      // JetStream answers a stale revision with "wrong last sequence" (10071), an existing key on create the same.
      if (/wrong last sequence|key exists/i.test(message(error))) return undefined;
      throw error;
    }
  }

  async entries(): Promise<Map<string, Static<T>>> {
    const result = new Map<string, Static<T>>();
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const token of keys) {
      const value = await this.get(decodeToken(token));
      if (value !== undefined) result.set(decodeToken(token), value);
    }
    return result;
  }

  async watch(onChange: (change: KvChange<Static<T>>) => void): Promise<KvWatch> {
    const status = await this.kv.status();
    const iterator = await this.kv.watch();
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    if (status.values === 0) markReady();
    const loop = (async () => {
      for await (const entry of iterator) {
        const key = decodeToken(entry.key);
        const value = entry.operation === 'PUT' ? this.decode(key, entry.value) : undefined;
        onChange({ key, value, revision: entry.revision });
        if (entry.delta === 0) markReady();
      }
    })();
    return {
      ready,
      stop: async () => {
        iterator.stop();
        await loop.catch(() => undefined);
        markReady();
      },
    };
  }
}

const ACK = TEXT.encode('+ACK');
const TERM = TEXT.encode('+TERM');
const NAK = TEXT.encode('-NAK');
const WPI = TEXT.encode('+WPI');

function rawDelivery(msg: JsMsg, nc: NatsConnection): RawDelivery {
  return {
    subject: msg.subject,
    text: () => msg.string(),
    deliveryCount: msg.info.deliveryCount,
    redelivered: msg.redelivered,
    streamSeq: msg.info.streamSequence,
    ack: () => msg.ack(),
    nak: (delayMs) => msg.nak(delayMs),
    term: () => msg.term(),
    working: () => msg.working(),
    detach: () => {
      // The implementation exposes the reply subject though the JsMsg interface does not; without it, keep
      // the message.
      const reply = (msg as JsMsg & { reply?: string }).reply;
      if (!reply)
        return {
          ack: () => msg.ack(),
          nak: (delayMs) => msg.nak(delayMs),
          term: () => msg.term(),
          working: () => msg.working(),
        };
      return new ReplySettler(nc, reply);
    },
  };
}

/**
 * JetStream's ack protocol (what JsMsg.ack/nak/term send), addressed by the reply subject alone. A class, so
 * a deferred ack costs one small object holding `nc` and `reply`, never the message and no closures.
 */
class ReplySettler implements Settler {
  constructor(
    private readonly nc: NatsConnection,
    private readonly reply: string,
  ) {}

  ack(): void {
    this.nc.publish(this.reply, ACK);
  }

  nak(delayMs: number): void {
    this.nc.publish(
      this.reply,
      delayMs > 0 ? TEXT.encode(`-NAK ${JSON.stringify({ delay: delayMs * 1e6 })}`) : NAK,
    );
  }

  term(): void {
    this.nc.publish(this.reply, TERM);
  }

  working(): void {
    this.nc.publish(this.reply, WPI);
  }
}

function decodeBytes(data: Uint8Array): Decoded {
  return decodeJson(JSON_DECODER.decode(data));
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//***@');
}
