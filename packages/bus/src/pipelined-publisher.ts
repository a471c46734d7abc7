import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** One message of a batch: JetStream dedupes on `msgId` (the `Nats-Msg-Id` header) within the stream's window. */
export interface BatchMessage {
  subject: string;
  data: Uint8Array;
  msgId: string;
}

/** Why a batch did not get every ack: the first failure, and how many messages were acknowledged. */
export class BatchPublishError extends Error {
  override readonly name = 'BatchPublishError';
  constructor(
    message: string,
    readonly acknowledged: number,
    readonly total: number,
  ) {
    super(message);
  }
}

interface PendingBatch {
  remaining: number;
  acked: Uint8Array;
  failure: string | undefined;
  failed: number;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (error: Error) => void;
}

const DECODER = new TextDecoder();
const ERROR_MARK = '"error"';

/**
 * Publishes a batch to JetStream with every message sent at once and one wait for all the acks: each message is
 * a plain publish whose reply subject names its batch and index on one long-lived wildcard inbox, so a batch
 * costs no per-message request, timer or promise (what `js.publish` spends per message), and one socket write
 * carries the whole batch. The stream's dedupe on `Nats-Msg-Id` makes a retried batch add nothing twice.
 */
export class PipelinedPublisher {
  private readonly prefix: string;
  private subscription: Subscription | undefined;
  private readonly batches = new Map<string, PendingBatch>();
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = createInbox();
  }

  /** Resolves once the stream acknowledged every message (stored or recognised as a duplicate). */
  publish(messages: readonly BatchMessage[], timeoutMs: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    this.subscription ??= this.nc.subscribe(`${this.prefix}.>`, {
      callback: (error, msg) => {
        if (error === null) this.onAck(msg);
      },
    });
    const batchId = (this.next++).toString(36);
    return new Promise<void>((resolve, reject) => {
      const batch: PendingBatch = {
        remaining: messages.length,
        acked: new Uint8Array(messages.length),
        failure: undefined,
        failed: 0,
        timer: setTimeout(() => {
          this.batches.delete(batchId);
          const acknowledged = messages.length - batch.remaining - batch.failed;
          reject(
            new BatchPublishError(
              `${batch.remaining} of ${messages.length} publishes got no ack in ${timeoutMs} ms`,
              acknowledged,
              messages.length,
            ),
          );
        }, timeoutMs),
        resolve,
        reject,
      };
      this.batches.set(batchId, batch);
      try {
        const replyBase = `${this.prefix}.${batchId}.`;
        for (let index = 0; index < messages.length; index++) {
          const message = messages[index]!;
          const h = headers();
          h.set('Nats-Msg-Id', message.msgId);
          this.nc.publish(message.subject, message.data, { reply: replyBase + index, headers: h });
        }
      } catch (error) {
        // Closed connection, oversized message: whatever was sent may still be stored; the caller retries all.
        clearTimeout(batch.timer);
        this.batches.delete(batchId);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private onAck(msg: Msg): void {
    const tail = msg.subject.slice(this.prefix.length + 1);
    const dot = tail.indexOf('.');
    const batchId = tail.slice(0, dot);
    const batch = this.batches.get(batchId);
    if (batch === undefined) return; // timed out already
    const index = Number(tail.slice(dot + 1));
    if (!(index >= 0 && index < batch.acked.length) || batch.acked[index] === 1) return;
    batch.acked[index] = 1;
    batch.remaining--;
    const failure = ackFailure(msg);
    if (failure !== undefined) {
      batch.failure ??= failure;
      batch.failed++;
    }
    if (batch.remaining > 0) return;
    clearTimeout(batch.timer);
    this.batches.delete(batchId);
    if (batch.failure === undefined) batch.resolve();
    else {
      const total = batch.acked.length;
      batch.reject(
        new BatchPublishError(`${batch.failed} of ${total}: ${batch.failure}`, total - batch.failed, total),
      );
    }
  }

  /** Unsubscribes; batches still waiting fail when their timers fire. */
  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}

/**
 * An ack is a JSON PubAck (`{"stream":…,"seq":…}`, with `"duplicate":true` for a deduplicated one) or a JSON
 * error; a status message without a body (503: no stream listens on the subject) is a failure too.
 */
function ackFailure(msg: Msg): string | undefined {
  const code = msg.headers?.code ?? 0;
  if (code >= 300)
    return `no stream acknowledged the publish (status ${code} ${msg.headers?.description ?? ''})`;
  if (msg.data.length === 0) return 'an empty ack';
  const text = DECODER.decode(msg.data);
  if (!text.includes(ERROR_MARK)) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { description?: string; code?: number } };
    if (parsed.error !== undefined)
      return `JetStream refused the publish: ${parsed.error.description ?? parsed.error.code}`;
  } catch {
    return `an ack that is not JSON: ${text.slice(0, 80)}`;
  }
  return undefined;
}
