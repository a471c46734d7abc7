/**
 * What the diagnostic preloads share. They load the gateway's own modules by file URL (the same URL the gateway
 * resolves through the `@immune/source` condition), so they act on the very module instances the gateway uses,
 * without any change to the gateway. Only the `gateway-*` diagnostic variants of the benchmark use them.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const source = (path: string) => pathToFileURL(join(repoRoot, path)).href;

interface TelemetryModule {
  startTelemetry(options: { serviceName: string; instrumentations: unknown[] }): unknown;
}
interface OtelApi {
  context: { disable(): void };
}

export async function startTelemetryWithout(options: { contextManager: boolean }): Promise<void> {
  const { startTelemetry } = (await import(
    source('packages/runtime/src/telemetry/index.ts')
  )) as TelemetryModule;
  startTelemetry({ serviceName: 'gateway', instrumentations: [] });
  if (!options.contextManager) {
    const require = createRequire(join(repoRoot, 'packages/runtime/package.json'));
    const api = require('@opentelemetry/api') as OtelApi;
    api.context.disable();
  }
}

interface BusModule {
  connectNatsBus(options: { url: string; prefix: string; name: string }): Promise<{
    publishVital(vital: unknown): Promise<void>;
    drain(): Promise<void>;
  }>;
}

export async function disableVitalPublishing(): Promise<void> {
  const { connectNatsBus } = (await import(source('packages/bus/src/nats-bus.ts'))) as BusModule;
  const bus = await connectNatsBus({
    url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    prefix: process.env.IMMUNE_SUBJECT_PREFIX ?? 'immune',
    name: 'bench-preload',
  });
  const prototype = Object.getPrototypeOf(bus) as { publishVital(vital: unknown): Promise<void> };
  prototype.publishVital = async () => {};
  await bus.drain();
}
