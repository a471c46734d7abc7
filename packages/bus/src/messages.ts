import {
  Anomaly,
  AnomalyType,
  type Checker,
  compileChecker,
  DiagnosisType,
  FleetTally,
  HealingActionType,
  HealingAttempt,
  Hypothesis,
  InfectionReport,
  LifecycleTransition,
  QuarantineOrder,
  Severity,
  Vital,
  VitalSource,
} from '@immune/core';
import Type, { type Static, type TSchema } from 'typebox';
import type { BucketName } from './subjects.js';

/**
 * The envelope every bus message travels in. `agentId` is the agent the message is about (the fleet-wide
 * marker `_fleet` for fleet events); `id` is unique per message and is the JetStream dedupe id.
 */
export const Envelope = <T extends TSchema>(data: T) =>
  Type.Object(
    {
      v: Type.Literal(1),
      id: Type.String({ minLength: 1, maxLength: 128 }),
      ts: Type.Integer({ minimum: 0 }),
      type: Type.String({ minLength: 1 }),
      agentId: Type.String({ minLength: 1 }),
      data,
    },
    { additionalProperties: false },
  );
export interface EnvelopeOf<Type extends string, Data> {
  v: 1;
  id: string;
  ts: number;
  type: Type;
  agentId: string;
  data: Data;
}

export const VitalEnvelope = Envelope(Vital);
export type VitalEnvelope = EnvelopeOf<'vital', Vital>;

/**
 * The value kept per agent in the quarantine bucket: core's `QuarantineOrder` and who wrote it. Its presence
 * with a blocked state blocks the agent.
 */
export const QuarantineEntry = Type.Object(
  {
    ...QuarantineOrder.properties,
    by: Type.Union([Type.Literal('sentinel'), Type.Literal('healer'), Type.Literal('operator')]),
  },
  { additionalProperties: false },
);
export type QuarantineEntry = Static<typeof QuarantineEntry>;

const Id = Type.String({ minLength: 1 });

/** Event type -> payload schema. Event types are always two tokens, `noun.verb`. */
export const EVENT_SCHEMAS = {
  'infection.detected': InfectionReport,
  /** The healer's ranking of causes, and whether an operator must approve healing (a severe case). */
  'infection.diagnosed': Type.Object(
    {
      infection_id: Id,
      agent_id: Id,
      hypotheses: Type.Array(Hypothesis, { minItems: 1 }),
      max_deviation: Type.Number(),
      severity: Severity,
      requires_approval: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
  'lifecycle.changed': LifecycleTransition,
  'quarantine.applied': QuarantineEntry,
  'quarantine.released': Type.Object(
    { agent_id: Id, reason: Type.String(), infection_id: Type.Optional(Id) },
    { additionalProperties: false },
  ),
  'approval.requested': Type.Object(
    {
      approval_id: Id,
      infection_id: Id,
      agent_id: Id,
      max_deviation: Type.Number(),
      severity: Severity,
      hypotheses: Type.Array(Hypothesis),
    },
    { additionalProperties: false },
  ),
  'approval.decided': Type.Object(
    {
      approval_id: Id,
      infection_id: Id,
      agent_id: Id,
      decision: Type.Union([Type.Literal('approved'), Type.Literal('rejected'), Type.Literal('heal_now')]),
      decided_by: Type.String(),
      note: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
  'healing.attempted': HealingAttempt,
  'healing.succeeded': HealingAttempt,
  'healing.failed': HealingAttempt,
  'healing.exhausted': Type.Object(
    {
      infection_id: Id,
      agent_id: Id,
      tried: Type.Array(Type.Object({ diagnosis: DiagnosisType, action: HealingActionType })),
    },
    { additionalProperties: false },
  ),
  'probation.passed': Type.Object(
    { infection_id: Id, agent_id: Id, action: HealingActionType, clean_vitals: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
  'probation.failed': Type.Object(
    { infection_id: Id, agent_id: Id, action: HealingActionType, anomalies: Type.Array(Anomaly) },
    { additionalProperties: false },
  ),
  'fleet.correlated': Type.Object(
    {
      anomaly_type: AnomalyType,
      agents: Type.Array(Type.String()),
      fraction: Type.Number({ minimum: 0, maximum: 1 }),
      fleet_size: Type.Integer({ minimum: 0 }),
      window_ms: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
  'agent.discovered': Type.Object(
    {
      agent_id: Id,
      source: VitalSource,
      identity: Type.Union([
        Type.Literal('header'),
        Type.Literal('api_key'),
        Type.Literal('ip_user_agent'),
        Type.Literal('registered'),
        // The agent named itself in a vital it reported to ingest.
        Type.Literal('reported'),
        // Named by an OTLP export: its X-Immune-Agent header, resource attributes or gen_ai.agent.* span attributes.
        Type.Literal('otlp'),
      ]),
      name: Type.Optional(Type.String()),
      model: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];
export type EventData<T extends EventType> = Static<(typeof EVENT_SCHEMAS)[T]>;
export type EventEnvelope<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K, EventData<K>> }[T];

const eventCheckers = new Map<EventType, Checker<TSchema>>(
  EVENT_TYPES.map((type) => [type, compileChecker(Envelope(EVENT_SCHEMAS[type]))]),
);
const vitalChecker = compileChecker(VitalEnvelope);
/**
 * The vital check runs on every vital the sentinel and ingest consume. TypeBox checks `additionalProperties:
 * false` with a regular expression over every key, which was half of the check's time; this variant checks the
 * same schema with the data left open, then the keys against a set (values come from JSON.parse: plain
 * objects, own enumerable keys only). `vitalChecker` still words the issues of a vital that fails.
 */
const openVitalChecker = compileChecker(Envelope(Type.Object(Vital.properties)));
const VITAL_FIELDS: ReadonlySet<string> = new Set(Object.keys(Vital.properties));

function onlyVitalFields(data: object): boolean {
  for (const key in data) if (!VITAL_FIELDS.has(key)) return false;
  return true;
}

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, value);
}

/** Validates a decoded event envelope; returns the issues when it is not one. */
export function checkEvent(
  value: unknown,
): { ok: true; event: EventEnvelope } | { ok: false; issues: string } {
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !isEventType(type)) {
    return { ok: false, issues: `unknown event type ${JSON.stringify(type)}` };
  }
  const checker = eventCheckers.get(type)!;
  if (checker.check(value)) return { ok: true, event: value as EventEnvelope };
  return { ok: false, issues: formatIssues(checker.issues(value)) };
}

export function checkVitalEnvelope(
  value: unknown,
): { ok: true; envelope: VitalEnvelope } | { ok: false; issues: string } {
  if (openVitalChecker.check(value) && value.type === 'vital' && onlyVitalFields(value.data))
    return { ok: true, envelope: value as VitalEnvelope };
  const issues = vitalChecker.issues(value);
  return { ok: false, issues: issues.length > 0 ? formatIssues(issues) : "type must be 'vital'" };
}

export function formatIssues(issues: ReadonlyArray<{ path: string; message: string }>): string {
  return issues.map((i) => `${i.path} ${i.message}`).join('; ');
}

/** A request/reply command: who serves it, and the shapes of both sides. */
export interface CommandDef<Req extends TSchema, Rep extends TSchema> {
  service: string;
  verb: string;
  request: Req;
  reply: Rep;
  requestChecker: Checker<Req>;
  replyChecker: Checker<Rep>;
}

export function defineCommand<Req extends TSchema, Rep extends TSchema>(def: {
  service: string;
  verb: string;
  request: Req;
  reply: Rep;
}): CommandDef<Req, Rep> {
  return { ...def, requestChecker: compileChecker(def.request), replyChecker: compileChecker(def.reply) };
}

/** What a command's caller sends, e.g. `RequestOf<typeof HEALER_APPROVE>`. */
export type RequestOf<C> = C extends CommandDef<infer Req, TSchema> ? Static<Req> : never;
/** What a command's server answers. */
export type ReplyOf<C> = C extends CommandDef<TSchema, infer Rep> ? Static<Rep> : never;

/** The wire form of a reply: commands fail with a code and message, never with a stack. */
export type CommandReply<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/** A KV bucket: its logical name and the schema of its values. */
export interface BucketDef<T extends TSchema> {
  /** The deployment prefix is added by the bus. */
  name: BucketName;
  schema: T;
  checker: Checker<T>;
  history: number;
  /** Values older than this disappear (NATS bucket max age); unset keeps them. */
  maxAgeMs?: number;
}

export function defineBucket<T extends TSchema>(def: {
  name: BucketDef<T>['name'];
  schema: T;
  history?: number;
  maxAgeMs?: number;
}): BucketDef<T> {
  return {
    name: def.name,
    schema: def.schema,
    checker: compileChecker(def.schema),
    history: def.history ?? 1,
    ...(def.maxAgeMs === undefined ? {} : { maxAgeMs: def.maxAgeMs }),
  };
}

export const QUARANTINE_BUCKET = defineBucket({ name: 'quarantine', schema: QuarantineEntry, history: 5 });

/**
 * One sentinel instance's share of the fleet view, under key = instance id in the `<prefix>_fleet` bucket.
 * Every instance watches the bucket and adds the other instances' counts to its own before deciding whether
 * an anomaly is fleet-wide (see docs/sentinel.md). Agents are partitioned, so counts add up without overlap.
 */
export const FleetTallyEntry = Type.Object(
  {
    instance: Type.String({ minLength: 1 }),
    partitions: Type.Array(Type.Integer({ minimum: 0 })),
    ...FleetTally.properties,
  },
  { additionalProperties: false },
);
export type FleetTallyEntry = Static<typeof FleetTallyEntry>;

/** A dead instance's tally ages out on its own; live instances rewrite theirs every few seconds. */
export const FLEET_BUCKET = defineBucket({
  name: 'fleet',
  schema: FleetTallyEntry,
  history: 1,
  maxAgeMs: 60_000,
});
