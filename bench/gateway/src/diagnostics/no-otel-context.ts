/**
 * Diagnostic preload for the `no OpenTelemetry tracing` variant: as `no-http-tracing.ts`, and the global async
 * context manager (AsyncLocalStorage) that the OpenTelemetry SDK installs is disabled too, so no span and no
 * context propagation happen per request. Prometheus metrics stay.
 */
import { startTelemetryWithout } from './preload-support.js';

await startTelemetryWithout({ contextManager: false });
