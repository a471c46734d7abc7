import type { TObject } from 'typebox';
import { type Config, describeConfig } from '../config/load-config.js';
import { createLogger, type LogFormat, type LogLevel } from '../logging/create-logger.js';
import { type RunningService, runService, type ServiceContext } from './run-service.js';

/** What `runMain` reads of every service's config: the `serviceEnv` fragments. */
export interface MainSettings {
  readonly LOG_LEVEL: LogLevel;
  readonly LOG_FORMAT: LogFormat;
  readonly SHUTDOWN_TIMEOUT_MS: number;
  readonly SHUTDOWN_DRAIN_DELAY_MS: number;
}

export interface RunMainOptions<T extends TObject> {
  /** The service's name: the logger's `service`, the telemetry resource, the readiness log. */
  name: string;
  /** The env schema the config was loaded from, for the redacted startup line. */
  schema: T;
  /** Loaded with `loadConfigOrExit(schema, { service: name })`. */
  config: Config<T> & MainSettings;
  /** From the service's `telemetry.ts`, imported first by main.ts; shut down in the last phase. */
  telemetry: { shutdown(): Promise<void> };
  /** Opens the bus and the store (`ownBus`, `ownStore`), then calls the service's `service.ts`. */
  start(context: ServiceContext): Promise<unknown>;
}

/**
 * A service's `main.ts` in one call, so every service starts the same way: the production logger from
 * LOG_LEVEL / LOG_FORMAT, one `starting <name>` line with the redacted config, then `runService` owning the
 * process with SHUTDOWN_TIMEOUT_MS and SHUTDOWN_DRAIN_DELAY_MS.
 */
export function runMain<T extends TObject>(options: RunMainOptions<T>): Promise<RunningService> {
  const { name, config } = options;
  const logger = createLogger({ service: name, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  logger.info({ config: describeConfig(options.schema, config) }, `starting ${name}`);
  return runService({
    name,
    logger,
    telemetry: options.telemetry,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
    async start(context) {
      await options.start(context);
    },
  });
}
