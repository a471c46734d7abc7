/**
 * Diagnostic preload (`node --import`) for the `no HTTP tracing` variant: starts the runtime's telemetry with
 * no instrumentations before the gateway's main.ts does. `startTelemetry` hands the running instance to a
 * second caller, so the unmodified gateway then runs without OpenTelemetry's node:http instrumentation (no
 * span per request) and everything else unchanged, Prometheus metrics and the async context manager included.
 */
import { startTelemetryWithout } from './preload-support.js';

await startTelemetryWithout({ contextManager: true });
