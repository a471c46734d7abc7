import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createTopology } from './subjects.js';

/**
 * Test support for anything that talks to the bus. Integration tests get NATS from NATS_URL; without it, from
 * a server answering on 127.0.0.1:4222; else a container via testcontainers when a Docker engine is
 * reachable; otherwise they fail with a message that says how to provide one. They never skip silently.
 */

let containerUrl: Promise<string> | undefined;

export async function natsUrlForTests(): Promise<string> {
  const fromEnv = process.env.NATS_URL;
  if (fromEnv) return fromEnv;
  // Development machines run NATS on its standard local port; use it when it answers.
  if (await portOpen('127.0.0.1', 4222)) return 'nats://127.0.0.1:4222';
  if (!dockerReachable()) {
    throw new Error(
      'integration tests need NATS with JetStream: set NATS_URL=nats://127.0.0.1:4222 (for example ' +
        '`nats-server -js`), or make a Docker engine reachable so testcontainers can start one',
    );
  }
  containerUrl ??= (async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('nats:2.9-alpine')
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  })();
  return containerUrl;
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function dockerReachable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

/** A fresh subject prefix, so each test has its own streams, consumers and buckets. */
export function uniquePrefix(label = 't'): string {
  return `${label}_${randomBytes(5).toString('hex')}`;
}

/** Deletes every stream and bucket a test prefix created. */
export async function removeTopology(url: string, prefix: string): Promise<void> {
  const topology = createTopology({ prefix });
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const streams = [
      topology.vitalsStream,
      topology.eventsStream,
      `KV_${topology.quarantineBucket}`,
      `KV_${topology.gatewayBucket}`,
      `KV_${topology.fleetBucket}`,
    ];
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

/**
 * What the consumers of a prefix's vitals stream still owe, summed: messages not yet handed out (`pending`) and
 * handed out but not acked (`ackPending`). Both 0 means nothing more will be delivered, redeliveries included.
 */
export async function vitalBacklog(
  url: string,
  prefix: string,
): Promise<{ pending: number; ackPending: number }> {
  const topology = createTopology({ prefix });
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    let pending = 0;
    let ackPending = 0;
    for await (const info of jsm.consumers.list(topology.vitalsStream)) {
      pending += info.num_pending;
      ackPending += info.num_ack_pending;
    }
    return { pending, ackPending };
  } finally {
    await nc.close();
  }
}

/**
 * Polls until `check` passes or the time is up; the last failure is rethrown. The default is generous: work of
 * a few hundred milliseconds takes seconds on a loaded 2-core machine, and a passing check returns at once.
 */
export async function eventually(
  check: () => void | Promise<void>,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}
export { freePort, OwnNatsServer, type OwnNatsServerOptions } from './own-nats-server.js';
export { createThrowawayJwtAuth, type ThrowawayJwtAuth } from './throwaway-jwt.js';
export { createThrowawayPki, type ThrowawayPki } from './throwaway-pki.js';
