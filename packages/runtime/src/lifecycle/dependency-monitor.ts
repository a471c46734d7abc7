import type { Meter } from '@opentelemetry/api';
import type { Logger } from '../logging/create-logger.js';
import { instruments } from '../telemetry/instruments.js';

export interface DependencyMonitorOptions {
  /** What is watched, as it appears in logs and in the metrics' `dependency` attribute: `nats`, `postgresql`. */
  dependency: string;
  /** Whether it answers now. A throw or a rejection counts as down; a slow answer is the probe's business. */
  isUp: () => boolean | Promise<boolean>;
  /** Where `immune_dependency_up` and `immune_dependency_outages_total` are recorded. */
  meter: Meter;
  /** Fields added to both log lines, e.g. the gateway's buffered vitals. */
  details?: () => Record<string, unknown>;
  /** How often to probe, ms. */
  intervalMs?: number;
}

/** The bus half of a service's monitoring: NATS is up while the connection is `connected`. */
export function monitorBus(
  context: MonitorContext,
  bus: { readonly status: string },
  meter: Meter,
  details?: () => Record<string, unknown>,
): DependencyMonitor {
  return monitorDependency(context, {
    dependency: 'nats',
    isUp: () => bus.status === 'connected',
    meter,
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * The database half: PostgreSQL is up while `answers` (e.g. `storeAnswers(store)` from @immune/store) says so.
 * Every 5 s, since a query costs a pool connection, unlike reading the bus's status.
 */
export function monitorDatabase(
  context: MonitorContext,
  answers: () => Promise<boolean>,
  meter: Meter,
): DependencyMonitor {
  return monitorDependency(context, { dependency: 'postgresql', isUp: answers, meter, intervalMs: 5_000 });
}

export interface DependencyMonitor {
  /** The last probe's outcome (true until a probe says otherwise: the service started with it up). */
  readonly up: boolean;
  /** Outages seen since start. */
  readonly outages: number;
  stop(): void;
}

interface MonitorContext {
  /** The service's name: the metrics' `service` attribute (several services share a process in single-process mode). */
  name: string;
  logger: Logger;
  /** The monitor stops by itself when shutdown begins, so a drained bus is not reported as an outage. */
  draining: AbortSignal;
}

/**
 * Says what is wrong, once: a warning when a dependency stops answering and one when it answers again (with
 * how long it was down), whatever the log level below warn, plus a 0/1 gauge and an outage counter. Probing
 * runs on an unref'd timer, one probe at a time. Every service watches its bus and its database this way
 * (docs/architecture.md, "Readiness and outages").
 */
export function monitorDependency(
  context: MonitorContext,
  options: DependencyMonitorOptions,
): DependencyMonitor {
  const { dependency } = options;
  const { logger } = context;
  const intervalMs = options.intervalMs ?? 1_000;
  const make = instruments(options.meter);
  const outagesCounter = make.counter('immune_dependency_outages', {
    description: 'Times a dependency became unreachable, by dependency',
  });
  const attributes = { dependency, service: context.name };
  const state = { up: true, outages: 0, downSince: 0, stopped: false };
  make.observedGauge(
    'immune_dependency_up',
    { description: '1 while the dependency answers, 0 while it does not, by dependency' },
    (result) => result.observe(state.up ? 1 : 0, attributes),
  );
  const details = () => {
    try {
      return options.details?.() ?? {};
    } catch {
      return {};
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const probe = async () => {
    let up: boolean;
    try {
      up = await options.isUp();
    } catch {
      up = false;
    }
    if (state.stopped) return;
    if (up !== state.up) {
      state.up = up;
      if (!up) {
        state.outages += 1;
        state.downSince = Date.now();
        outagesCounter.add(1, attributes);
        logger.warn({ event: 'dependency-down', dependency, ...details() }, `${dependency} is unreachable`);
      } else {
        logger.warn(
          { event: 'dependency-up', dependency, down_ms: Date.now() - state.downSince, ...details() },
          `${dependency} is reachable again`,
        );
      }
    }
    schedule();
  };
  const schedule = () => {
    if (state.stopped) return;
    timer = setTimeout(() => void probe(), intervalMs);
    timer.unref();
  };
  const stop = () => {
    state.stopped = true;
    clearTimeout(timer);
  };
  context.draining.addEventListener('abort', stop, { once: true });
  schedule();
  return {
    get up() {
      return state.up;
    },
    get outages() {
      return state.outages;
    },
    stop,
  };
}
