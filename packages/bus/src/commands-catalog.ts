import { LifecycleState, LifecycleTransition } from '@immune/core';
import Type from 'typebox';
import { defineCommand } from './messages.js';

/**
 * The request/reply commands between services, one definition each. Servers register handlers with
 * `bus.handleCommand`; callers use `bus.request`. More arrive with the sentinel and healer.
 */
export const SENTINEL_LIFECYCLE = defineCommand({
  service: 'sentinel',
  verb: 'lifecycle',
  request: Type.Object({ agent_id: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  reply: Type.Object(
    {
      agent_id: Type.String(),
      state: LifecycleState,
      entered_at: Type.Integer({ minimum: 0 }),
      seq: Type.Integer({ minimum: 0 }),
      history: Type.Array(LifecycleTransition),
    },
    { additionalProperties: false },
  ),
});
