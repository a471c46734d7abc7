// Imported first by main.ts: OpenTelemetry must patch node:http before fastify and undici load.
import { startTelemetry } from '@immune/runtime/telemetry';

// No span per proxied call unless traces are exported: the proxy is on every tool call's path.
export const telemetry = startTelemetry({ serviceName: 'mcp-proxy', httpSpans: 'when-exported' });
