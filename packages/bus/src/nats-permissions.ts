import { BUS_USERS, type BusAccess, type BusUser, SERVICE_ACCESS } from './service-access.js';
import { createTopology, type Topology, type TopologyOptions } from './subjects.js';

/** One user's permissions in nats-server's terms (`authorization { users = [ { permissions: ... } ] }`). */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** May reply to requests it received (command servers), without a publish grant on `_INBOX.>`. */
  allow_responses: boolean;
}

const API = '$JS.API';

/** A stream the user consumes: create/inspect consumers on it, pull, ack, and answer flow control. */
function consumerSubjects(stream: string, ephemeral: boolean): string[] {
  return [
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
    ...(ephemeral ? [`${API}.CONSUMER.DELETE.${stream}.*`, `$JS.FC.${stream}.>`] : []),
  ];
}

/** A bucket the user reads: open it (created with the contract's settings if missing), get, watch, list keys. */
function bucketReadSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.STREAM.CREATE.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.STREAM.MSG.GET.${stream}`,
    ...consumerSubjects(stream, true),
  ];
}

/**
 * The least NATS permissions that let a bus user do what `SERVICE_ACCESS` says, for one deployment's prefix.
 * Every user may also: look up JetStream (`$JS.API.INFO`), provision the vitals and events streams (every
 * service does so idempotently at start, so start order does not matter; see docs/bus.md for what this still
 * allows), and receive replies on `_INBOX.>`.
 */
export function natsPermissions(access: BusAccess, topology: Topology): NatsPermissions {
  const publish = new Set<string>([`${API}.INFO`]);
  for (const stream of [topology.vitalsStream, topology.eventsStream]) {
    for (const verb of ['INFO', 'CREATE', 'UPDATE']) publish.add(`${API}.STREAM.${verb}.${stream}`);
  }
  const subscribe = new Set<string>(['_INBOX.>']);
  const add = (set: Set<string>, subjects: readonly string[]) => {
    for (const subject of subjects) set.add(subject);
  };

  if (access.publishesVitals) publish.add(topology.vitalsWildcard);
  if (access.consumesVitals) add(publish, consumerSubjects(topology.vitalsStream, false));
  for (const type of access.publishesEvents ?? []) publish.add(`${topology.prefix}.events.${type}.*`);
  if (access.consumesEvents) {
    add(publish, consumerSubjects(topology.eventsStream, access.consumesEvents === 'ephemeral'));
  }
  const written = new Set((access.writesBuckets ?? []).map((b) => topology.bucketName(b.name)));
  const read = new Set([...(access.readsBuckets ?? []).map((b) => topology.bucketName(b.name)), ...written]);
  for (const bucket of read) add(publish, bucketReadSubjects(bucket));
  for (const bucket of written) publish.add(`$KV.${bucket}.>`);
  for (const command of access.servesCommands ?? []) {
    subscribe.add(topology.commandSubject(command.service, command.verb));
  }
  for (const command of access.sendsCommands ?? []) {
    publish.add(topology.commandSubject(command.service, command.verb));
  }
  return {
    publish: { allow: [...publish].sort() },
    subscribe: { allow: [...subscribe].sort() },
    allow_responses: (access.servesCommands ?? []).length > 0,
  };
}

/** Every bus user's permissions for one deployment. */
export function deploymentPermissions(options: TopologyOptions = {}): Record<BusUser, NatsPermissions> {
  const topology = createTopology(options);
  return Object.fromEntries(
    BUS_USERS.map((user) => [user, natsPermissions(SERVICE_ACCESS[user], topology)]),
  ) as Record<BusUser, NatsPermissions>;
}

/** The environment variable holding a user's NATS password, in the server config and in the service's env. */
export function natsPasswordVariable(user: BusUser): string {
  return `IMMUNE_NATS_${user.toUpperCase().replaceAll('-', '_')}_PASSWORD`;
}

/**
 * The nats-server `authorization` block for a deployment: one user per bus user, named after it, its password
 * taken from the server's environment (`$IMMUNE_NATS_<USER>_PASSWORD`, so the file holds no secret), and its
 * permissions from `deploymentPermissions`. Shipped for compose, kustomize and Helm (`deploy/nats/`), and
 * checked against this function by `deploy/test`.
 */
export function natsAuthorizationConfig(options: TopologyOptions = {}): string {
  const permissions = deploymentPermissions(options);
  const quote = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');
  const users = BUS_USERS.map((user) => {
    const p = permissions[user];
    return [
      `    {`,
      `      user: "${user}"`,
      `      password: $${natsPasswordVariable(user)}`,
      `      permissions: {`,
      `        publish: { allow: [${quote(p.publish.allow)}] }`,
      `        subscribe: { allow: [${quote(p.subscribe.allow)}] }`,
      ...(p.allow_responses ? ['        allow_responses: true'] : []),
      `      }`,
      `    }`,
    ].join('\n');
  });
  const prefix = createTopology(options).prefix;
  return [
    `# Immune's NATS users and their least-privilege permissions for subject prefix '${prefix}'.`,
    '# Generated from the bus contract (packages/bus/src/service-access.ts) by',
    '# `pnpm --filter @immune/bus nats-permissions`; do not edit by hand. Passwords come from the environment.',
    'authorization {',
    '  users = [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/**
 * The same users for operator (JWT) mode: `nsc` commands that create one user per bus user with the same
 * permissions, whose `.creds` files the services read from NATS_CREDS_FILE (deploy/kubernetes component
 * `nats-credentials`). Run against your operator and account: `ACCOUNT=immune sh deploy/nats/nsc-users.sh`.
 */
export function nscUsersScript(options: TopologyOptions = {}): string {
  const permissions = deploymentPermissions(options);
  const prefix = createTopology(options).prefix;
  const lines = BUS_USERS.map((user) => {
    const p = permissions[user];
    return [
      `nsc add user --account "$ACCOUNT" --name "immune-${user}"`,
      `  --allow-pub '${p.publish.allow.join(',')}'`,
      `  --allow-sub '${p.subscribe.allow.join(',')}'`,
      ...(p.allow_responses ? ['  --allow-pub-response'] : []),
    ].join(' \\\n');
  });
  return [
    '#!/bin/sh',
    `# Immune's NATS users for operator (JWT) mode, subject prefix '${prefix}': the same least-privilege permissions`,
    '# as immune-permissions.conf. Generated from the bus contract (packages/bus/src/service-access.ts) by',
    '# `pnpm --filter @immune/bus nats-permissions`; do not edit by hand. Then, per user:',
    '#   nsc generate creds --account "$ACCOUNT" --name immune-<user> > <user>.creds',
    'set -eu',
    // A shell parameter expansion, not a template placeholder.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    ': "${ACCOUNT:?set ACCOUNT to the NATS account of this deployment}"',
    ...lines,
    '',
  ].join('\n');
}

/**
 * Where the generated permissions are shipped, relative to the repository root: compose mounts deploy/nats,
 * and kustomize can only read files inside its own folders, hence the copy (the Helm chart is generated from
 * the kustomize component, so after regenerating these run `pnpm --filter @immune/deploy helm:generate`).
 */
export const NATS_PERMISSION_FILES = {
  config: [
    'deploy/nats/immune-permissions.conf',
    'deploy/kubernetes/components/nats-users/immune-permissions.conf',
  ],
  nsc: 'deploy/nats/nsc-users.sh',
} as const;
