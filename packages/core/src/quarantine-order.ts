import Type, { type Static } from 'typebox';
import { LifecycleState } from './lifecycle.js';

/**
 * How hard an entry contains its agent. `full`: nothing it sends is forwarded (every blocked lifecycle state).
 * `soft`: the agent is SUSPECTED of a severe anomaly and still served while the lifecycle decides, but clamped
 * to its own baseline (`max_tokens`) and throttled to its usual rate (`calls_per_minute`).
 */
export const ContainmentLevel = Type.Union([Type.Literal('soft'), Type.Literal('full')]);
export type ContainmentLevel = Static<typeof ContainmentLevel>;

/**
 * Why and since when an agent is held: what triage decides (`{ kind: 'quarantine', order }`) and the body of
 * the agent's entry in the quarantine bucket, where the bus adds who wrote it (`QuarantineEntry`). Add a field
 * here and both carry it. Without `containment`, the level follows the state (blocked states are `full`).
 */
export const QuarantineOrder = Type.Object(
  {
    agent_id: Type.String({ minLength: 1 }),
    state: LifecycleState,
    reason: Type.String(),
    since: Type.Integer({ minimum: 0 }),
    infection_id: Type.Optional(Type.String()),
    containment: Type.Optional(ContainmentLevel),
    /** Soft containment: the output-token limit every call of the agent is clamped to (its baseline). */
    max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Soft containment: calls per minute the agent keeps (its usual rate); beyond, calls are refused. */
    calls_per_minute: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);
export type QuarantineOrder = Static<typeof QuarantineOrder>;
