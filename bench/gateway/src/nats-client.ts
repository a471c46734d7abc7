import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The few NATS client calls the benchmark needs, typed here: the client is resolved from packages/bus. */
export interface NatsConnection {
  close(): Promise<void>;
}
export interface JetStreamManager {
  streams: {
    names(): AsyncIterable<string>;
    delete(stream: string): Promise<boolean>;
  };
}
export interface KvBucket {
  put(key: string, value: string): Promise<number>;
  delete(key: string): Promise<void>;
}
interface TransportModule {
  connect(options: { servers: string; timeout?: number }): Promise<NatsConnection>;
}
interface JetStreamModule {
  jetstreamManager(nc: NatsConnection): Promise<JetStreamManager>;
}
interface KvModule {
  Kvm: new (nc: NatsConnection) => { open(bucket: string): Promise<KvBucket> };
}

async function load<T>(repoRoot: string, specifier: string): Promise<T> {
  // @immune/bus owns the NATS client; resolving through it keeps one version and no extra dependency here.
  const require = createRequire(join(repoRoot, 'packages/bus/package.json'));
  const mod = (await import(pathToFileURL(require.resolve(specifier)).href)) as T & { default?: T };
  // All three are CommonJS: `default` is module.exports.
  return mod.default ?? mod;
}

export async function connectNats(repoRoot: string, natsUrl: string): Promise<NatsConnection> {
  const { connect } = await load<TransportModule>(repoRoot, '@nats-io/transport-node');
  return connect({ servers: natsUrl, timeout: 5_000 });
}

export async function jetstreamManager(repoRoot: string, nc: NatsConnection): Promise<JetStreamManager> {
  const mod = await load<JetStreamModule>(repoRoot, '@nats-io/jetstream');
  return mod.jetstreamManager(nc);
}

/** An existing KV bucket by its full name (`<prefix>_<name>`, as the bus's topology names it). */
export async function openKv(repoRoot: string, nc: NatsConnection, bucket: string): Promise<KvBucket> {
  const { Kvm } = await load<KvModule>(repoRoot, '@nats-io/kv');
  return new Kvm(nc).open(bucket);
}
