// Imported first by main.ts: OpenTelemetry must patch node:http before fastify loads.
import { startTelemetry } from '@immune/runtime/telemetry';

export const telemetry = startTelemetry({ serviceName: 'dashboard' });
