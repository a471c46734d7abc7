/**
 * Every subject, stream, consumer and bucket name is built and parsed here and nowhere else.
 *
 *   <prefix>.vitals.<partition>.<agent>     JetStream stream <PREFIX>_VITALS
 *   <prefix>.events.<type>.<agent>          JetStream stream <PREFIX>_EVENTS   (type may contain dots)
 *   <prefix>.cmd.<service>.<verb>           core request/reply
 *   KV <prefix>_quarantine, <prefix>_gateway, <prefix>_gateway_limits, <prefix>_fleet, <prefix>_mcp_pending
 *
 * `<agent>` is the agent id encoded as one NATS token. The prefix lets several deployments (or tests) share a
 * cluster.
 */

/** The KV buckets, by logical name; the deployment prefix is added by `bucketName`. */
export type BucketName = 'quarantine' | 'gateway' | 'gateway_limits' | 'fleet' | 'mcp_pending';

export const DEFAULT_PREFIX = 'immune';
export const DEFAULT_PARTITIONS = 16;

/** Agent id used on fleet-wide events such as `fleet.correlated`. */
export const FLEET_AGENT_ID = '_fleet';

const PLAIN_TOKEN_CHAR = /[A-Za-z0-9_-]/;

/**
 * Encodes any string as one NATS subject token (and a valid KV key): characters outside [A-Za-z0-9_-] become
 * `=` followed by two hex digits per UTF-8 byte (`=` is legal in both subjects and KV keys). The mapping is reversible and stable, so the same agent
 * always lands on the same subject, and ids with dots, wildcards or spaces cannot escape their token.
 */
export function encodeToken(value: string): string {
  if (value.length === 0) throw new RangeError('bus: an empty string cannot be a subject token');
  let out = '';
  for (const char of value) {
    if (PLAIN_TOKEN_CHAR.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `=${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function decodeToken(token: string): string {
  if (!token.includes('=')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      const byte = Number.parseInt(token.slice(i + 1, i + 3), 16);
      if (Number.isNaN(byte)) throw new RangeError(`bus: malformed token escape in '${token}'`);
      bytes.push(byte);
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** FNV-1a over the UTF-8 bytes: stable across processes, versions and platforms. */
export function partitionOf(agentId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(agentId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

export interface TopologyOptions {
  prefix?: string;
  partitions?: number;
}

export type Topology = ReturnType<typeof createTopology>;

export function createTopology(options: TopologyOptions = {}) {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new RangeError(`bus: subject prefix '${prefix}' must be one token of letters, digits, '_' or '-'`);
  }
  if (!(Number.isInteger(partitions) && partitions >= 1 && partitions <= 1024)) {
    throw new RangeError('bus: partitions must be an integer in 1..1024');
  }
  const upper = prefix.toUpperCase().replaceAll('-', '_');
  const allPartitions = Array.from({ length: partitions }, (_, i) => i);

  return {
    prefix,
    partitions,
    allPartitions,
    vitalsStream: `${upper}_VITALS`,
    eventsStream: `${upper}_EVENTS`,
    quarantineBucket: `${prefix}_quarantine`,
    gatewayBucket: `${prefix}_gateway`,
    fleetBucket: `${prefix}_fleet`,
    /** The NATS name of a logical bucket. */
    bucketName: (name: BucketName) => `${prefix}_${name}`,
    vitalsWildcard: `${prefix}.vitals.>`,
    eventsWildcard: `${prefix}.events.>`,

    partitionOf: (agentId: string) => partitionOf(agentId, partitions),
    vitalSubject: (agentId: string) =>
      `${prefix}.vitals.${partitionOf(agentId, partitions)}.${encodeToken(agentId)}`,
    partitionFilter: (partition: number) => `${prefix}.vitals.${partition}.>`,
    eventSubject: (type: string, agentId: string) => `${prefix}.events.${type}.${encodeToken(agentId)}`,
    /** Filter for events of one type (any agent) or of one agent (any type). */
    eventFilter: (type?: string, agentId?: string) =>
      `${prefix}.events.${type ?? '*.*'}.${agentId === undefined ? '*' : encodeToken(agentId)}`,
    commandSubject: (service: string, verb: string) =>
      `${prefix}.cmd.${encodeToken(service)}.${encodeToken(verb)}`,
    /** One durable consumer per partition; the name says which. */
    partitionConsumer: (durable: string, partition: number) => `${prefix}_${durable}_p${partition}`,
    eventConsumer: (durable: string, type?: string) =>
      `${prefix}_${durable}${type === undefined ? '' : `_${type.replaceAll('.', '_')}`}`,

    /** The agent and partition of a vital subject, or undefined if it is not one. */
    parseVitalSubject(subject: string): { partition: number; agentId: string } | undefined {
      const parts = subject.split('.');
      if (parts.length !== 4 || parts[0] !== prefix || parts[1] !== 'vitals') return undefined;
      const partition = Number(parts[2]);
      if (!Number.isInteger(partition)) return undefined;
      return { partition, agentId: decodeToken(parts[3]!) };
    },

    /** The type and agent of an event subject (the type is everything between `events.` and the agent). */
    parseEventSubject(subject: string): { type: string; agentId: string } | undefined {
      const parts = subject.split('.');
      if (parts.length < 4 || parts[0] !== prefix || parts[1] !== 'events') return undefined;
      return { type: parts.slice(2, -1).join('.'), agentId: decodeToken(parts.at(-1)!) };
    },
  };
}
