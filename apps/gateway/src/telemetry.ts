// Imported first by main.ts: OpenTelemetry must patch node:http before fastify and undici load.
import { startTelemetry } from '@immune/runtime/telemetry';

export const telemetry = startTelemetry({ serviceName: 'gateway' });
