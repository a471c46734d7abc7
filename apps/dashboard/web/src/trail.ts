import { useSyncExternalStore } from 'react';

// The lifecycle states each agent went through while this tab watched, from the live stream. Frames coalesce
// events (≤ 1 per second), so a card's state can skip from QUARANTINED to PROBATION in one render; the trail
// shows the moves in between (HEALING) so the operator sees what happened, not only where it ended.

const MAX = 8;
const trails = new Map<string, readonly string[]>();
const listeners = new Set<() => void>();

export function recordMove(agentId: string, to: string): void {
  trails.set(agentId, [...(trails.get(agentId) ?? []), to].slice(-MAX));
  for (const listener of listeners) listener();
}

export function useTrail(agentId: string): readonly string[] | undefined {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => trails.get(agentId),
  );
}
