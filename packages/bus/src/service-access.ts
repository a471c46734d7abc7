import type { TSchema } from 'typebox';
import {
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_INFECTIONS,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
  SENTINEL_LIFECYCLE,
} from './commands-catalog.js';
import { GATEWAY_BUCKET, GATEWAY_LIMITS_BUCKET } from './gateway-config.js';
import { MCP_PENDING_BUCKET } from './mcp-pending.js';
import {
  type BucketDef,
  type CommandDef,
  type EventType,
  FLEET_BUCKET,
  QUARANTINE_BUCKET,
} from './messages.js';

/**
 * What each bus user does on the bus, in terms of the bus contract's own definitions (commands, buckets, event
 * types), so the NATS permissions (`nats-permissions.ts`) are derived from the contract and follow it: a
 * renamed bucket or a new command changes the permissions with it. A service that starts doing something new
 * on the bus adds it here; `packages/bus/test/nats-permissions.test.ts` runs each user's real operations under
 * its derived permissions on a real nats-server, and the things it must not do.
 */
export interface BusAccess {
  /** Publishes vitals (any partition: the partition follows from the agent). */
  publishesVitals?: boolean;
  /** Durable consumers on the vitals stream (any durable name: it is configurable). */
  consumesVitals?: boolean;
  /** Event types it publishes: exactly those its code publishes, each granted on its own subject. */
  publishesEvents?: readonly EventType[];
  /** Reads the events stream: 'durable' consumers, or 'ephemeral' ordered ones (live views). */
  consumesEvents?: 'durable' | 'ephemeral';
  /** Buckets it reads (get, watch, keys). */
  readsBuckets?: ReadonlyArray<BucketDef<TSchema>>;
  /** Buckets it writes (put, delete, compare-and-set); writing implies reading. */
  writesBuckets?: ReadonlyArray<BucketDef<TSchema>>;
  /** Commands it serves (subscribes to, and replies on). */
  servesCommands?: ReadonlyArray<CommandDef<TSchema, TSchema>>;
  /** Commands it may send. */
  sendsCommands?: ReadonlyArray<CommandDef<TSchema, TSchema>>;
}

/**
 * The events the sentinel publishes (its verdicts and the lifecycle it owns). Its publishing code takes only
 * these types (`SentinelEvent`), so the compiler keeps this list and the code in step, and its NATS user may
 * publish exactly these subjects.
 */
export const SENTINEL_EVENTS = [
  'lifecycle.changed',
  'infection.detected',
  'quarantine.applied',
  'quarantine.released',
  'fleet.correlated',
  'probation.passed',
  'probation.failed',
] as const satisfies readonly EventType[];
export type SentinelEvent = (typeof SENTINEL_EVENTS)[number];

/** The events the healer publishes (diagnosis, approvals, healing, manual quarantine); see SENTINEL_EVENTS. */
export const HEALER_EVENTS = [
  'infection.diagnosed',
  'approval.requested',
  'approval.decided',
  'healing.attempted',
  'healing.succeeded',
  'healing.failed',
  'healing.exhausted',
  'quarantine.applied',
  'quarantine.released',
] as const satisfies readonly EventType[];
export type HealerEvent = (typeof HEALER_EVENTS)[number];

/** Operators' commands: the healer's whole command surface. */
export const HEALER_OPERATOR_COMMANDS: ReadonlyArray<CommandDef<TSchema, TSchema>> = [
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_REJECT,
  HEALER_HEAL,
  HEALER_FEEDBACK,
  HEALER_QUARANTINE,
  HEALER_RELEASE,
  HEALER_INFECTIONS,
  HEALER_AGENTS,
];

export const BUS_USERS = [
  'gateway',
  'mcp-proxy',
  'ingest',
  'sentinel',
  'healer',
  'dashboard',
  'operator',
] as const;
export type BusUser = (typeof BUS_USERS)[number];

/**
 * Who does what. `operator` is the CLI (`immune ... --nats`): an operator's client. Decisions worth knowing:
 * - only the sentinel and the healer write the quarantine bucket;
 * - only operators' clients (CLI, dashboard, and the gateway's management API, which relays an operator's
 *   hand quarantine and release with the operator's token) send the healer's commands; `sentinel.lifecycle`
 *   is also sent by the healer (it drives healing transitions) and the gateway (its lifecycle view);
 * - ingest publishes vitals and `agent.discovered`, and reads only the vitals it records (its recorder);
 * - the MCP proxy publishes vitals, reads quarantine and policies, and keeps its pending calls.
 */
export const SERVICE_ACCESS: Readonly<Record<BusUser, BusAccess>> = {
  gateway: {
    publishesVitals: true,
    publishesEvents: ['agent.discovered'],
    readsBuckets: [QUARANTINE_BUCKET],
    writesBuckets: [GATEWAY_BUCKET, GATEWAY_LIMITS_BUCKET],
    sendsCommands: [HEALER_QUARANTINE, HEALER_RELEASE, SENTINEL_LIFECYCLE],
  },
  'mcp-proxy': {
    publishesVitals: true,
    readsBuckets: [QUARANTINE_BUCKET, GATEWAY_BUCKET],
    writesBuckets: [MCP_PENDING_BUCKET],
  },
  ingest: {
    publishesVitals: true,
    consumesVitals: true,
    publishesEvents: ['agent.discovered'],
  },
  sentinel: {
    consumesVitals: true,
    publishesEvents: SENTINEL_EVENTS,
    writesBuckets: [QUARANTINE_BUCKET, FLEET_BUCKET],
    servesCommands: [SENTINEL_LIFECYCLE],
  },
  healer: {
    consumesEvents: 'durable',
    publishesEvents: HEALER_EVENTS,
    writesBuckets: [QUARANTINE_BUCKET, GATEWAY_BUCKET],
    servesCommands: HEALER_OPERATOR_COMMANDS,
    sendsCommands: [SENTINEL_LIFECYCLE],
  },
  dashboard: {
    consumesEvents: 'ephemeral',
    readsBuckets: [QUARANTINE_BUCKET],
    sendsCommands: [...HEALER_OPERATOR_COMMANDS, SENTINEL_LIFECYCLE],
  },
  operator: {
    sendsCommands: [...HEALER_OPERATOR_COMMANDS, SENTINEL_LIFECYCLE],
  },
};
