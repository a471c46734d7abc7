import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The few NATS client calls the cleanup needs, typed here: the client is resolved from packages/bus. */
interface NatsConnection {
  close(): Promise<void>;
}
interface JetStreamManager {
  streams: {
    names(): AsyncIterable<string>;
    delete(stream: string): Promise<boolean>;
  };
}
interface TransportModule {
  connect(options: { servers: string; timeout?: number }): Promise<NatsConnection>;
}
interface JetStreamModule {
  jetstreamManager(nc: NatsConnection): Promise<JetStreamManager>;
}

async function load<T>(repoRoot: string, specifier: string): Promise<T> {
  // @immune/bus owns the NATS client; resolving through it keeps one version and no extra dependency here.
  const require = createRequire(join(repoRoot, 'packages/bus/package.json'));
  const mod = (await import(pathToFileURL(require.resolve(specifier)).href)) as T & { default?: T };
  // Both are CommonJS: `default` is module.exports.
  return mod.default ?? mod;
}

/** The streams a gateway with this subject prefix creates: vitals, events, and its two KV buckets. */
export function streamsOf(prefix: string): string[] {
  const upper = prefix.toUpperCase().replaceAll('-', '_');
  return [`${upper}_VITALS`, `${upper}_EVENTS`, `KV_${prefix}_quarantine`, `KV_${prefix}_gateway`];
}

/** Deletes the benchmark's streams; returns the names actually deleted. */
export async function deleteStreams(repoRoot: string, natsUrl: string, prefix: string): Promise<string[]> {
  const { connect } = await load<TransportModule>(repoRoot, '@nats-io/transport-node');
  const { jetstreamManager } = await load<JetStreamModule>(repoRoot, '@nats-io/jetstream');
  const nc = await connect({ servers: natsUrl, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const wanted = new Set(streamsOf(prefix));
    const deleted: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (wanted.has(name) && (await jsm.streams.delete(name))) deleted.push(name);
    }
    return deleted;
  } finally {
    await nc.close();
  }
}
