import { type Bus, connectNatsBus, type EventEnvelope, type EventType, type Subscription } from '@immune/bus';

export interface SubscriberOptions {
  /** nats://host:4222 (several separated by commas). */
  natsUrl: string;
  /** The deployment's subject prefix (IMMUNE_SUBJECT_PREFIX); default `immune`. */
  prefix?: string;
  /** Connection name shown in NATS monitoring. */
  name?: string;
}

export interface SubscribeOptions {
  /** Only events about this agent. */
  agentId?: string;
  /**
   * A durable name makes delivery at-least-once with acks, surviving restarts (a handler that throws gets the
   * event again later); without one you see only events published while you listen.
   */
  durable?: string;
  /** For a new durable subscription: every retained event (30 days), or only new ones (default). */
  deliverFrom?: 'all' | 'new';
  /** Events that failed their schema (a newer or foreign publisher) are skipped and reported here. */
  onInvalid?: (reason: string, subject: string) => void;
}

/** The handler of a subscription to some event types: `event.type` and `event.data` are typed accordingly. */
export type EventHandler<T extends EventType> = (event: EventEnvelope<T>) => void | Promise<void>;

/**
 * Subscribes to Immune's events on NATS for alerting and automation. Every event arrives decoded and
 * validated against the schema the services publish with, typed by its `type`.
 *
 * ```ts
 * const immune = await ImmuneSubscriber.connect({ natsUrl: 'nats://nats:4222' });
 * await immune.on(['infection.detected', 'healing.exhausted'], async (event) => {
 *   if (event.type === 'infection.detected') await page(event.agentId, event.data.severity);
 * }, { durable: 'pager' });
 * ```
 */
export class ImmuneSubscriber {
  private constructor(private readonly bus: Bus) {}

  static async connect(options: SubscriberOptions): Promise<ImmuneSubscriber> {
    const bus = await connectNatsBus({
      url: options.natsUrl,
      name: options.name ?? 'immune-sdk-subscriber',
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
    return new ImmuneSubscriber(bus);
  }

  /** On an existing bus (single-process setups, tests). `close()` then drains that bus. */
  static fromBus(bus: Bus): ImmuneSubscriber {
    return new ImmuneSubscriber(bus);
  }

  /** Events of one type or several. */
  async on<T extends EventType>(
    types: T | readonly T[],
    handler: EventHandler<T>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const list: readonly T[] = typeof types === 'string' ? [types] : types;
    if (list.length === 0) throw new TypeError('ImmuneSubscriber.on: name at least one event type');
    return this.subscribe(list, handler as EventHandler<EventType>, options);
  }

  /** Every event about one agent, whatever its type. */
  async onAgent(
    agentId: string,
    handler: EventHandler<EventType>,
    options: Omit<SubscribeOptions, 'agentId'> = {},
  ): Promise<Subscription> {
    return this.subscribe(undefined, handler, { ...options, agentId });
  }

  /** Every event. */
  async onAll(handler: EventHandler<EventType>, options: SubscribeOptions = {}): Promise<Subscription> {
    return this.subscribe(undefined, handler, options);
  }

  /** Stops every subscription (handlers in flight finish and are acked) and disconnects. */
  async close(): Promise<void> {
    await this.bus.drain();
  }

  private subscribe(
    types: readonly EventType[] | undefined,
    handler: EventHandler<EventType>,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    return this.bus.subscribeEvents({
      ...(types === undefined ? {} : { types }),
      ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
      ...(options.durable === undefined ? {} : { durable: options.durable }),
      ...(options.deliverFrom === undefined ? {} : { deliverFrom: options.deliverFrom }),
      handler: async (event) => {
        await handler(event);
      },
      ...(options.onInvalid === undefined ? {} : { onDropped: options.onInvalid }),
    });
  }
}
