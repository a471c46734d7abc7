import Type, { type Static } from 'typebox';
import { LifecycleState } from './lifecycle.js';

/**
 * Why and since when an agent is held: what triage decides (`{ kind: 'quarantine', order }`) and the body of
 * the agent's entry in the quarantine bucket, where the bus adds who wrote it (`QuarantineEntry`). Add a field
 * here and both carry it.
 */
export const QuarantineOrder = Type.Object(
  {
    agent_id: Type.String({ minLength: 1 }),
    state: LifecycleState,
    reason: Type.String(),
    since: Type.Integer({ minimum: 0 }),
    infection_id: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type QuarantineOrder = Static<typeof QuarantineOrder>;
