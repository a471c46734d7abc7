import type { ConsumeVitalsOptions, DeferredAck, SubscribeEventsOptions } from './bus.js';
import { checkEvent, checkVitalEnvelope } from './messages.js';
import type { Topology } from './subjects.js';

/** What both implementations hand to the shared processing: one message, and how to settle it. */
export interface RawDelivery {
  subject: string;
  text(): string;
  deliveryCount: number;
  redelivered: boolean;
  /** The message's stream sequence (see `VitalDelivery.streamSeq`). */
  streamSeq: number;
  ack(): void;
  nak(delayMs: number): void;
  term(): void;
  /** In progress: restarts the broker's ack wait (JetStream `+WPI`), so a slow commit is not redelivered. */
  working(): void;
  /**
   * The same three verbs, holding on to as little as possible: a deferred ack keeps its message for a
   * checkpoint interval, and thousands of whole messages alive that long made every young-generation
   * collection copy them.
   */
  detach(): Settler;
}

export type Settler = Pick<RawDelivery, 'ack' | 'nak' | 'term' | 'working'>;

export type Decoded = { ok: true; value: unknown } | { ok: false; issues: string };

export function decodeJson(text: string): Decoded {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, issues: `not JSON: ${errorMessage(error)}` };
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Validates a vital at the edge, runs the handler, and acks only after it succeeded. */
export function vitalProcessor(topology: Topology, options: ConsumeVitalsOptions) {
  const maxDeliver = options.maxDeliver ?? 20;
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const drop = (reason: string, subject: string) => options.onDropped?.(reason, subject);
  const settlements = new Settlements(maxDeliver, retryDelayMs, drop, options.ackWaitMs ?? 30_000);
  return async (raw: RawDelivery): Promise<void> => {
    const decoded = decodeJson(raw.text());
    const checked = decoded.ok ? checkVitalEnvelope(decoded.value) : decoded;
    if (!checked.ok) {
      raw.term();
      drop(`invalid vital: ${checked.issues}`, raw.subject);
      return;
    }
    const delivery = {
      vital: checked.envelope.data,
      envelope: checked.envelope,
      partition: topology.partitionOf(checked.envelope.data.agent_id),
      redelivered: raw.redelivered,
      deliveryCount: raw.deliveryCount,
      streamSeq: raw.streamSeq,
    };
    await settle(raw, () => options.handler(delivery), settlements);
  };
}

function isDeferred(value: unknown): value is DeferredAck {
  return typeof value === 'object' && value !== null && 'ackWhen' in value;
}

/** The same for events; ephemeral subscriptions have nothing to ack, so a failing handler is only reported. */
export function eventProcessor(options: SubscribeEventsOptions) {
  const durable = options.durable !== undefined;
  const drop = (reason: string, subject: string) => options.onDropped?.(reason, subject);
  const settlements = new Settlements(20, 1_000, drop, 30_000);
  return async (raw: RawDelivery): Promise<void> => {
    const decoded = decodeJson(raw.text());
    const checked = decoded.ok ? checkEvent(decoded.value) : decoded;
    if (!checked.ok) {
      if (durable) raw.term();
      drop(`invalid event: ${checked.issues}`, raw.subject);
      return;
    }
    if (options.agentId !== undefined && checked.event.agentId !== options.agentId) {
      if (durable) raw.ack();
      return;
    }
    if (!durable) {
      await options
        .handler(checked.event)
        .catch((error: unknown) => drop(`handler failed: ${errorMessage(error)}`, raw.subject));
      return;
    }
    await settle(raw, () => options.handler(checked.event), settlements);
  };
}

type Drop = (reason: string, subject: string) => void;

/** Acks after the handler succeeds; otherwise naks with a delay, or terminates after maxDeliver attempts. */
async function settle(raw: RawDelivery, handler: () => unknown, settlements: Settlements) {
  let result: unknown;
  try {
    result = handler();
    if (result instanceof Promise) result = await result;
  } catch (error) {
    settlements.fail(raw, raw.deliveryCount, raw.subject, error);
    return;
  }
  if (!isDeferred(result)) {
    raw.ack();
    return;
  }
  // Settled later, off the ordering slot; a connection closed meanwhile just means a redelivery.
  settlements.defer(result.ackWhen, raw.detach(), raw.deliveryCount, raw.subject);
}

/** The deliveries waiting on one `ackWhen` promise. */
interface Batch {
  settlers: Settler[];
  deliveryCounts: number[];
  subjects: string[];
  /** Its promise settled: a delivery handed the same (already settled) promise starts a batch of its own. */
  settled: boolean;
  /** Sends in-progress acks while the commit takes longer than a third of the ack wait. */
  keepAlive: NodeJS.Timeout | undefined;
}

/**
 * How one consumer settles what its handler did not ack at once: failures (nak with a delay, or terminate after
 * maxDeliver attempts), and deferred acks, grouped by the promise they wait for. A handler hands out the same
 * promise to every delivery until its next commit (the sentinel's checkpoint), so one reaction per promise
 * settles thousands of deliveries; a reaction and its closures per delivery kept ~0.5 KB per unacked message
 * alive for a whole checkpoint interval, and the young-generation collections that copied it paused the consumer.
 */
class Settlements {
  private gate: Promise<void> | undefined;
  private batch: Batch | undefined;

  constructor(
    private readonly maxDeliver: number,
    private readonly retryDelayMs: number,
    private readonly drop: Drop,
    /** The consumer's ack wait: deliveries still waiting on their commit get `working()` well before it. */
    readonly ackWaitMs: number,
  ) {}

  fail(settler: Settler, deliveryCount: number, subject: string, error: unknown): void {
    if (deliveryCount >= this.maxDeliver) {
      settler.term();
      this.drop(`handler failed ${this.maxDeliver} times: ${errorMessage(error)}`, subject);
    } else {
      settler.nak(this.retryDelayMs);
    }
  }

  defer(ackWhen: Promise<void>, settler: Settler, deliveryCount: number, subject: string): void {
    let batch = this.batch;
    if (this.gate !== ackWhen || batch === undefined || batch.settled) {
      batch = { settlers: [], deliveryCounts: [], subjects: [], settled: false, keepAlive: undefined };
      this.gate = ackWhen;
      this.batch = batch;
      settleBatchWhen(ackWhen, batch, this);
    }
    batch.settlers.push(settler);
    batch.deliveryCounts.push(deliveryCount);
    batch.subjects.push(subject);
  }
}

/** Top-level, so the reactions' context holds the batch and the settlements only. */
function settleBatchWhen(ackWhen: Promise<void>, batch: Batch, settlements: Settlements): void {
  keepAlive(batch, Math.max(1, Math.floor(settlements.ackWaitMs / 3)));
  ackWhen.then(
    () => {
      batch.settled = true;
      clearTimeout(batch.keepAlive);
      ackInSlices(batch.settlers, 0);
    },
    (error: unknown) => {
      batch.settled = true;
      clearTimeout(batch.keepAlive);
      const { settlers, deliveryCounts, subjects } = batch;
      for (let i = 0; i < settlers.length; i++) {
        const settler = settlers[i]!;
        const count = deliveryCounts[i]!;
        const subject = subjects[i]!;
        safely(() => settlements.fail(settler, count, subject, error));
      }
    },
  );
}

/**
 * A commit slower than the ack wait (PostgreSQL stalling the sentinel's checkpoint) would otherwise have the
 * broker redeliver deliveries that are only waiting: duplicates, and a redelivery order that is not the
 * stream's. So the ack wait can be short (a crashed consumer's vitals come back quickly) without that cost.
 */
function keepAlive(batch: Batch, everyMs: number): void {
  batch.keepAlive = setTimeout(() => {
    if (batch.settled) return;
    for (const settler of batch.settlers) safely(() => settler.working());
    keepAlive(batch, everyMs);
  }, everyMs);
  batch.keepAlive.unref();
}

/** Acks sent between two yields to the event loop (a few ms of protocol writes). */
const ACK_SLICE = 256;

/**
 * A checkpoint releases thousands of acks at once; sent in one go they held the event loop for tens of ms,
 * which every vital arriving meanwhile waited out. Acks are not urgent (the ack wait is seconds): slice them.
 */
function ackInSlices(settlers: readonly Settler[], from: number): void {
  const end = Math.min(from + ACK_SLICE, settlers.length);
  for (let i = from; i < end; i++) safely(() => settlers[i]!.ack());
  if (end < settlers.length) setImmediate(ackInSlices, settlers, end);
}

function safely(settleNow: () => void): void {
  try {
    settleNow();
  } catch {
    // The message will be redelivered after its ack wait.
  }
}
