// Imported first by main.ts: OpenTelemetry must patch node:http before fastify and undici load.
import { startTelemetry } from '@immune/runtime/telemetry';

// No span per proxied call unless traces are exported: see docs/gateway.md (Telemetry) for the measured cost.
export const telemetry = startTelemetry({ serviceName: 'gateway', httpSpans: 'when-exported' });
