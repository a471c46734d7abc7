import type { ConsumeVitalsOptions, DeferredAck, SubscribeEventsOptions } from './bus.js';
import { checkEvent, checkVitalEnvelope } from './messages.js';
import type { Topology } from './subjects.js';

/** What both implementations hand to the shared processing: one message, and how to settle it. */
export interface RawDelivery {
  subject: string;
  text(): string;
  deliveryCount: number;
  redelivered: boolean;
  ack(): void;
  nak(delayMs: number): void;
  term(): void;
  /**
   * The same three verbs, holding on to as little as possible: a deferred ack keeps its message for a
   * checkpoint interval, and thousands of whole messages alive that long made every young-generation
   * collection copy them.
   */
  detach(): Settler;
}

export type Settler = Pick<RawDelivery, 'ack' | 'nak' | 'term'>;

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
    };
    await settle(raw, () => options.handler(delivery), maxDeliver, retryDelayMs, drop);
  };
}

function isDeferred(value: unknown): value is DeferredAck {
  return typeof value === 'object' && value !== null && 'ackWhen' in value;
}

/** The same for events; ephemeral subscriptions have nothing to ack, so a failing handler is only reported. */
export function eventProcessor(options: SubscribeEventsOptions) {
  const durable = options.durable !== undefined;
  const drop = (reason: string, subject: string) => options.onDropped?.(reason, subject);
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
    await settle(raw, () => options.handler(checked.event), 20, 1_000, drop);
  };
}

/** Acks after the handler succeeds; otherwise naks with a delay, or terminates after maxDeliver attempts. */
async function settle(
  raw: RawDelivery,
  handler: () => Promise<unknown>,
  maxDeliver: number,
  retryDelayMs: number,
  drop: (reason: string, subject: string) => void,
): Promise<void> {
  let result: unknown;
  try {
    result = await handler();
  } catch (error) {
    failed(raw, raw.deliveryCount, raw.subject, error, maxDeliver, retryDelayMs, drop);
    return;
  }
  if (!isDeferred(result)) {
    raw.ack();
    return;
  }
  // Settled later, off the ordering slot; a connection closed meanwhile just means a redelivery.
  settleLater(result.ackWhen, raw.detach(), raw.deliveryCount, raw.subject, maxDeliver, retryDelayMs, drop);
}

/**
 * Its own function on purpose: closures share their enclosing function's context, so callbacks created in
 * `settle` would keep `raw`, and with it the whole message, alive until the checkpoint.
 */
function settleLater(
  ackWhen: Promise<void>,
  later: Settler,
  deliveryCount: number,
  subject: string,
  maxDeliver: number,
  retryDelayMs: number,
  drop: (reason: string, subject: string) => void,
): void {
  ackWhen.then(
    () => safely(() => later.ack()),
    (error: unknown) =>
      safely(() => failed(later, deliveryCount, subject, error, maxDeliver, retryDelayMs, drop)),
  );
}

/** Naks with a delay, or terminates after maxDeliver attempts. */
function failed(
  settler: Settler,
  deliveryCount: number,
  subject: string,
  error: unknown,
  maxDeliver: number,
  retryDelayMs: number,
  drop: (reason: string, subject: string) => void,
): void {
  if (deliveryCount >= maxDeliver) {
    settler.term();
    drop(`handler failed ${maxDeliver} times: ${errorMessage(error)}`, subject);
  } else {
    settler.nak(retryDelayMs);
  }
}

function safely(settleNow: () => void): void {
  try {
    settleNow();
  } catch {
    // The message will be redelivered after its ack wait.
  }
}
