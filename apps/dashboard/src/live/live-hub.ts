import { randomBytes } from 'node:crypto';
import {
  type Bus,
  type BusStatus,
  type EventEnvelope,
  type KvWatch,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
  type Subscription,
} from '@immune/bus';
import type { Logger } from '@immune/runtime';

/** One thing that happened, in the order the hub heard it. */
export type LiveItem =
  | { seq: number; kind: 'event'; event: EventEnvelope }
  | { seq: number; kind: 'quarantine'; agent_id: string; entry: QuarantineEntry | null };

/** A fleet-wide cause the sentinel reported (`fleet.correlated`), active for its window after it was seen. */
export interface FleetCause {
  anomaly_type: string;
  agents: string[];
  fraction: number;
  fleet_size: number;
  window_ms: number;
  ts: number;
}

export type LiveListener = (item: LiveItem) => void;
export type StatusListener = (status: BusStatus) => void;

/**
 * The dashboard process's one view of the bus: one ephemeral subscription to every event and one watch of the
 * quarantine bucket, fanned out to every open browser stream. Browsers never cost the bus anything.
 */
export class LiveHub {
  /** Changes with every process start, so a client can tell a restart from a reconnect. */
  readonly boot = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly listeners = new Set<LiveListener>();
  private readonly statusListeners = new Set<StatusListener>();
  private subscription: Subscription | undefined;
  private watch: KvWatch | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastStatus: BusStatus;
  /** The latest fleet-wide correlation per anomaly type: what the fleet banner shows while it lasts. */
  private readonly fleetCauses = new Map<string, FleetCause>();

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {
    this.lastStatus = bus.status;
  }

  get sequence(): number {
    return this.seq;
  }

  get status(): BusStatus {
    return this.bus.status;
  }

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribeEvents({
      handler: async (event) => this.emit({ seq: 0, kind: 'event', event }),
      onDropped: (reason, subject) =>
        this.logger.warn({ reason, subject }, 'dashboard: an event failed its schema'),
    });
    const bucket = await this.bus.kv(QUARANTINE_BUCKET);
    let ready = false;
    this.watch = await bucket.watch((change) => {
      // The entries that existed before the watch are what the first fetch of the agents already shows.
      if (!ready) return;
      this.emit({ seq: 0, kind: 'quarantine', agent_id: change.key, entry: change.value ?? null });
    });
    await this.watch.ready;
    ready = true;
    // The bus has no status callback; a cheap local read once a second tells browsers when the view goes stale.
    this.statusTimer = setInterval(() => {
      const status = this.bus.status;
      if (status === this.lastStatus) return;
      this.lastStatus = status;
      if (status === 'connected') this.logger.info('dashboard: the bus is back, live updates resume');
      else this.logger.warn({ status }, 'dashboard: the bus is unreachable, live updates paused');
      for (const listener of this.statusListeners) listener(status);
    }, 1000);
    this.statusTimer.unref();
  }

  /** Adds a listener; the returned function removes it. */
  listen(listener: LiveListener, onStatus?: StatusListener): () => void {
    this.listeners.add(listener);
    if (onStatus) this.statusListeners.add(onStatus);
    return () => {
      this.listeners.delete(listener);
      if (onStatus) this.statusListeners.delete(onStatus);
    };
  }

  get clients(): number {
    return this.listeners.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.statusTimer);
    this.listeners.clear();
    this.statusListeners.clear();
    await Promise.all([this.subscription?.stop(), this.watch?.stop()]);
  }

  /** Fleet-wide causes still inside their correlation window. */
  activeFleetCauses(now: number): FleetCause[] {
    return [...this.fleetCauses.values()].filter((cause) => cause.ts + cause.window_ms >= now);
  }

  private emit(item: LiveItem): void {
    if (item.kind === 'event' && item.event.type === 'fleet.correlated') {
      this.fleetCauses.set(item.event.data.anomaly_type, { ...item.event.data, ts: item.event.ts });
    }
    item.seq = ++this.seq;
    for (const listener of this.listeners) {
      try {
        listener(item);
      } catch (error) {
        this.logger.warn({ err: error }, 'dashboard: a live listener failed');
      }
    }
  }
}
