import { connectNats, jetstreamManager } from './nats-client.js';

/** The streams a gateway with this subject prefix creates: vitals, events, and its two KV buckets. */
export function streamsOf(prefix: string): string[] {
  const upper = prefix.toUpperCase().replaceAll('-', '_');
  return [`${upper}_VITALS`, `${upper}_EVENTS`, `KV_${prefix}_quarantine`, `KV_${prefix}_gateway`];
}

/** Deletes the benchmark's streams; returns the names actually deleted. */
export async function deleteStreams(repoRoot: string, natsUrl: string, prefix: string): Promise<string[]> {
  const nc = await connectNats(repoRoot, natsUrl);
  try {
    const jsm = await jetstreamManager(repoRoot, nc);
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
