import type { Bus } from './bus.js';
import type { BusConfig } from './bus-env.js';
import { createEmbeddedBus } from './embedded-bus.js';
import { connectNatsBus } from './nats-bus.js';
import { type NatsSecurity, natsSecurity } from './nats-security.js';

export interface OpenBusOptions {
  /** NATS_URL; when unset, the embedded in-process bus (single-process mode). */
  natsUrl: string | undefined;
  prefix?: string;
  partitions?: number;
  /** Connection name shown in NATS monitoring: the service's name. */
  name: string;
  /** Credentials and TLS (`natsSecurity`); only used with NATS. */
  security?: NatsSecurity;
}

/** The one way a service gets its bus: NATS when NATS_URL is set, else the embedded bus. */
export async function openBus(options: OpenBusOptions): Promise<Bus> {
  const topology = {
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
  };
  if (options.natsUrl) {
    return connectNatsBus({
      url: options.natsUrl,
      name: options.name,
      ...topology,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  }
  return createEmbeddedBus(topology);
}

/**
 * `openBus` from a service's validated environment (`BusEnv`); `name` names the connection. Rejects with a
 * `BusConfigError` (bad NATS_* combination, unreadable file) or a `BusAuthError` (credentials or TLS refused)
 * before anything else happens, so the service stops at start with a message naming the problem.
 */
export async function openBusFromEnv(env: BusConfig, name: string): Promise<Bus> {
  return openBus({
    natsUrl: env.NATS_URL,
    prefix: env.IMMUNE_SUBJECT_PREFIX,
    partitions: env.IMMUNE_PARTITIONS,
    name,
    security: natsSecurity(env),
  });
}
