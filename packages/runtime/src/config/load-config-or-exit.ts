import type { DestinationStream } from 'pino';
import type { TObject } from 'typebox';
import { createLogger } from '../logging/create-logger.js';
import { ConfigError } from './config-error.js';
import { type Config, type EnvSource, loadConfig } from './load-config.js';

export interface LoadConfigOrExitOptions {
  /** Written as `service` on the fatal line. */
  service: string;
  env?: EnvSource;
  /** Tests only. */
  destination?: DestinationStream;
  /** Tests only; `process.exit` by default. */
  exit?: (code: number) => never;
}

/**
 * `loadConfig` for a service's main.ts: on invalid configuration it writes one JSON `fatal` line with every
 * problem (what a crash-looping pod shows in `kubectl logs`) and exits 1, instead of an unstructured stack trace.
 */
export function loadConfigOrExit<T extends TObject>(schema: T, options: LoadConfigOrExitOptions): Config<T> {
  try {
    return loadConfig(schema, options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The level and format variables may themselves be the invalid ones, so this line uses fixed settings.
    const logger = createLogger({
      service: options.service,
      format: 'json',
      destination: options.destination,
    });
    logger.fatal({ event: 'config-invalid', issues: error.issues }, error.message);
    return (options.exit ?? process.exit)(1);
  }
}
