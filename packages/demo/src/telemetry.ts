// Imported first by main.ts: OpenTelemetry must patch node:http before fastify and undici load.
import { startTelemetry } from '@immune/runtime/telemetry';

// The gateway's hot path runs in this process too: no span per call unless traces are exported.
export const telemetry = startTelemetry({ serviceName: 'immune', httpSpans: 'when-exported' });
