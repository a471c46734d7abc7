import closeWithGrace from 'close-with-grace';
import { closeHttpServer } from '../http/close-http-server.js';
import type { HttpServer } from '../http/types.js';
import type { Logger } from '../logging/create-logger.js';
import { Readiness } from './readiness.js';
import type { ShutdownPhase } from './shutdown-phases.js';
import { type ShutdownReport, ShutdownSequence } from './shutdown-sequence.js';

export interface ListenAddress {
  port: number;
  /** `0.0.0.0` when omitted. */
  host?: string;
}

/** What a service's `start` receives: everything it needs to wire itself into the common lifecycle. */
export interface ServiceContext {
  readonly name: string;
  readonly logger: Logger;
  readonly readiness: Readiness;
  readonly shutdown: ShutdownSequence;
  /** Aborts the moment shutdown starts; long-lived streams end themselves on it. */
  readonly draining: AbortSignal;
  /** Listens, and registers the server to be closed in the `http` phase. Resolves to the bound port. */
  listen(server: HttpServer, address: ListenAddress): Promise<number>;
}

/**
 * The context of one service among several in the same process (single-process mode, end-to-end tests): its
 * own logger name, the process's one readiness and shutdown sequence.
 */
export function childContext(context: ServiceContext, service: string): ServiceContext {
  return {
    name: service,
    logger: context.logger.child({ service }),
    readiness: context.readiness,
    shutdown: context.shutdown,
    draining: context.draining,
    listen: (server, address) => context.listen(server, address),
  };
}

export interface RunServiceOptions {
  name: string;
  logger: Logger;
  /** Shut down in the last phase, after everything that could still emit spans. */
  telemetry?: { shutdown(): Promise<void> };
  /** SHUTDOWN_TIMEOUT_MS: past it the process exits 1 wherever the sequence is. Default 25 s. */
  shutdownTimeoutMs?: number;
  /** SHUTDOWN_DRAIN_DELAY_MS. */
  drainDelayMs?: number;
  phaseTimeoutsMs?: Partial<Record<ShutdownPhase, number>>;
  /**
   * Opens connections, registers their shutdown hooks, builds and listens the HTTP server. Readiness turns
   * 200 when it resolves, unless shutdown began meanwhile.
   */
  start(context: ServiceContext): void | Promise<void>;
  /**
   * Whether this call owns the process: signals, uncaught errors and exit codes. False for services started
   * inside another process (single-process mode, tests), which then call `stop()` themselves.
   */
  ownProcess?: boolean;
}

export interface RunningService {
  readonly context: ServiceContext;
  /** Runs the shutdown sequence; when the service owns the process, the process then exits. */
  stop(reason?: string): Promise<ShutdownReport>;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

/** Raised after the sequence when some phase failed, so the process exits 1. */
class ShutdownIncompleteError extends Error {
  constructor(readonly report: ShutdownReport) {
    super('shutdown finished with failed or timed-out phases');
  }
}

/**
 * Runs a service with the lifecycle every Immune service shares. On SIGTERM/SIGINT (and the other termination
 * signals), an uncaught exception or an unhandled rejection, readiness drops at once and the shutdown phases run
 * in order: HTTP close, work stop, bus drain, store flush, pool close, telemetry. The process exits 0 when every
 * phase succeeded and 1 when one failed or timed out, on a second signal, or when SHUTDOWN_TIMEOUT_MS passes.
 */
export async function runService(options: RunServiceOptions): Promise<RunningService> {
  const { logger, name } = options;
  const ownProcess = options.ownProcess ?? true;
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const readiness = new Readiness();
  const shutdown = new ShutdownSequence({
    logger,
    drainDelayMs: options.drainDelayMs,
    phaseTimeoutsMs: options.phaseTimeoutsMs,
    onDraining: () => readiness.markDraining(),
  });
  const telemetry = options.telemetry;
  if (telemetry) shutdown.onTelemetryShutdown(() => telemetry.shutdown(), 'opentelemetry');

  const context: ServiceContext = {
    name,
    logger,
    readiness,
    shutdown,
    draining: shutdown.draining,
    async listen(server, address) {
      await server.listen({ host: address.host ?? '0.0.0.0', port: address.port });
      const bound = server.server.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
      shutdown.onHttpClose((signal) => closeHttpServer(server, signal), `http:${port}`);
      logger.info(
        { event: 'http-listening', host: address.host ?? '0.0.0.0', port },
        `listening on port ${port}`,
      );
      return port;
    },
  };

  const processHandlers = ownProcess ? installProcessHandlers(logger, shutdown, timeoutMs) : undefined;

  try {
    await options.start(context);
  } catch (error) {
    logger.fatal({ err: error, event: 'start-failed' }, `${name} failed to start`);
    if (!processHandlers) {
      await shutdown.run('start-failed');
      throw error;
    }
    processHandlers.uninstall();
    forceExitAfter(timeoutMs, logger);
    await shutdown.run('start-failed');
    process.exit(1);
  }

  if (!shutdown.started) {
    readiness.markReady();
    logger.info({ event: 'service-ready', service: name }, `${name} ready`);
  }

  return {
    context,
    async stop(reason = 'stop requested') {
      if (processHandlers) {
        // close-with-grace runs the sequence and exits; this promise only settles if it does not.
        processHandlers.close();
        return new Promise<ShutdownReport>(() => {});
      }
      return shutdown.run(reason);
    },
  };
}

function installProcessHandlers(logger: Logger, shutdown: ShutdownSequence, timeoutMs: number) {
  return closeWithGrace(
    {
      delay: timeoutMs,
      logger: {
        error: (value: unknown) => {
          if (value instanceof ShutdownIncompleteError) {
            logger.error({ event: 'shutdown-incomplete' }, 'exiting with code 1: shutdown was incomplete');
          } else {
            logger.error({ err: value, event: 'shutdown-error' }, 'shutdown error; exiting with code 1');
          }
        },
      },
      onSecondSignal: (signal) =>
        logger.fatal(
          { event: 'forced-exit', signal },
          `second ${signal} during shutdown; exiting with code 1`,
        ),
      onSecondError: (error) =>
        logger.fatal(
          { event: 'forced-exit', err: error },
          'another uncaught error during shutdown; exiting with code 1',
        ),
      onTimeout: (delay) =>
        logger.fatal(
          { event: 'shutdown-timeout', timeoutMs: delay },
          `shutdown exceeded ${delay} ms; exiting with code 1`,
        ),
    },
    async ({ signal, err, manual }) => {
      let reason: string;
      if (err) {
        logger.fatal({ err, event: 'uncaught-error' }, 'uncaught error; shutting down');
        reason = 'uncaught-error';
      } else if (signal) {
        logger.info({ event: 'signal', signal }, `received ${signal}; shutting down`);
        reason = signal;
      } else {
        reason = manual ? 'stop requested' : 'event loop empty';
      }
      const report = await shutdown.run(reason);
      if (!report.ok) throw new ShutdownIncompleteError(report);
    },
  );
}

function forceExitAfter(timeoutMs: number, logger: Logger): void {
  setTimeout(() => {
    logger.fatal(
      { event: 'shutdown-timeout', timeoutMs },
      `shutdown exceeded ${timeoutMs} ms; exiting with code 1`,
    );
    process.exit(1);
  }, timeoutMs).unref();
}
