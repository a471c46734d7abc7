import {
  Envelope,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  FleetTallyEntry,
  QuarantineEntry,
  VitalEnvelope,
} from './messages.js';
import { DEFAULT_PARTITIONS, DEFAULT_PREFIX } from './subjects.js';

/**
 * The AsyncAPI 3.0 description of the bus, built from the same schemas the bus validates with, so the
 * document cannot drift from the code. `docs/asyncapi.json` is this output; a test keeps it current.
 */
export function buildAsyncApi(): Record<string, unknown> {
  const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as unknown;
  const agentParameter = {
    description:
      'The agent id encoded as one NATS token: characters outside [A-Za-z0-9_-] become =XX per UTF-8 byte.',
  };
  const prefixParameter = {
    description: `Deployment subject prefix (IMMUNE_SUBJECT_PREFIX), default '${DEFAULT_PREFIX}'.`,
  };

  const channels: Record<string, unknown> = {
    vitals: {
      address: '{prefix}.vitals.{partition}.{agent}',
      description:
        `JetStream stream <PREFIX>_VITALS: limits retention, 24 h, 2-minute duplicate window on Nats-Msg-Id = vital id. ` +
        `partition = FNV-1a(agent id) mod P (default ${DEFAULT_PARTITIONS}).`,
      parameters: {
        prefix: prefixParameter,
        partition: { description: 'Stable partition of the agent.' },
        agent: agentParameter,
      },
      messages: { vital: { $ref: '#/components/messages/vital' } },
    },
  };
  const operations: Record<string, unknown> = {
    receiveVitals: { action: 'receive', channel: { $ref: '#/channels/vitals' } },
  };
  const messages: Record<string, unknown> = {
    vital: { name: 'vital', contentType: 'application/json', payload: plain(VitalEnvelope) },
  };

  for (const type of EVENT_TYPES) {
    const key = type.replace('.', '_');
    channels[key] = {
      address: `{prefix}.events.${type}.{agent}`,
      description: `JetStream stream <PREFIX>_EVENTS (30 days). Fleet-wide events use the agent '_fleet'.`,
      parameters: { prefix: prefixParameter, agent: agentParameter },
      messages: { [key]: { $ref: `#/components/messages/${key}` } },
    };
    operations[`receive_${key}`] = { action: 'receive', channel: { $ref: `#/channels/${key}` } };
    messages[key] = {
      name: type,
      contentType: 'application/json',
      payload: plain(Envelope(EVENT_SCHEMAS[type])),
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Immune bus',
      version: '1',
      description:
        'Subjects, streams and KV buckets of Immune on NATS. Every message is a JSON envelope ' +
        '{ v: 1, id, ts, type, agentId, data }. KV bucket <prefix>_quarantine holds one QuarantineEntry per ' +
        'encoded agent id; its presence with a blocked state (DRAINING, QUARANTINED, HEALING, EXHAUSTED) blocks ' +
        'the agent at the gateway and MCP proxy. KV bucket <prefix>_fleet holds one FleetTallyEntry per ' +
        'sentinel instance (its share of the fleet view for fleet correlation; values expire after 60 s).',
    },
    defaultContentType: 'application/json',
    servers: { nats: { host: 'localhost:4222', protocol: 'nats' } },
    channels,
    operations,
    components: {
      messages,
      schemas: { QuarantineEntry: plain(QuarantineEntry), FleetTallyEntry: plain(FleetTallyEntry) },
    },
  };
}
