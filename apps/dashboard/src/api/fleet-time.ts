import { isBlocked, LIFECYCLE_STATES, type LifecycleState } from '@immune/core';
import type { StateTimeline } from '@immune/store';

export interface FleetTime {
  /** Share of the agents' time in the window spent serving (any state but the blocked ones); null: no agent. */
  uptime: number | null;
  /** How many agents were in each state when the window closed. */
  by_state_at_end: Record<LifecycleState, number>;
  /** Of those, how many were held (a blocked state) then. */
  held_at_end: number;
}

/**
 * Walks each agent's lifecycle over [since, until): time in a blocked state (DRAINING, QUARANTINED, HEALING,
 * EXHAUSTED) is time the agent did not serve. Pure, so the headline's uptime is tested without a database.
 */
export function fleetTime(timelines: readonly StateTimeline[], until: number): FleetTime {
  const byState = Object.fromEntries(LIFECYCLE_STATES.map((state) => [state, 0])) as Record<
    LifecycleState,
    number
  >;
  let total = 0;
  let serving = 0;
  for (const timeline of timelines) {
    let state = timeline.initial;
    let at = timeline.from;
    const spend = (to: number) => {
      const span = Math.max(0, to - at);
      total += span;
      if (!isBlocked(state)) serving += span;
    };
    for (const move of timeline.transitions) {
      spend(move.ts);
      state = move.to;
      at = Math.max(at, move.ts);
    }
    spend(until);
    byState[state]++;
  }
  const held = LIFECYCLE_STATES.filter(isBlocked).reduce((sum, state) => sum + byState[state], 0);
  return { uptime: total === 0 ? null : serving / total, by_state_at_end: byState, held_at_end: held };
}
