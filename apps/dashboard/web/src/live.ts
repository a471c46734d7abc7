import type { QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { AgentCard } from './api.js';
import { recordMove } from './trail.js';

/** What the badge shows: live while the stream is open and the dashboard's bus is up, else stale since when. */
export type LiveStatus = { live: true } | { live: false; since: number };

interface Envelope {
  type: string;
  agentId: string;
  data: unknown;
}
interface UpdateFrame {
  events: Envelope[];
  quarantine: Record<string, unknown | null>;
}

/**
 * One EventSource per tab on GET /api/stream. Each frame patches the query cache where the event carries the
 * change (lifecycle state, quarantine) and invalidates what it makes stale; a reconnect (a second `hello`) or
 * a `resync` refetches everything, which covers what was missed. No polling.
 */
export function useLiveStream(client: QueryClient, enabled: boolean): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>({ live: false, since: Date.now() });
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource('/api/stream');
    let hellos = 0;
    const stale = () => setStatus((now) => (now.live ? { live: false, since: Date.now() } : now));
    const busState = (event: MessageEvent<string>) => {
      const { bus } = JSON.parse(event.data) as { bus: string };
      if (bus === 'connected') setStatus({ live: true });
      else stale();
    };
    source.addEventListener('hello', (event) => {
      hellos += 1;
      if (hellos > 1) void client.invalidateQueries();
      busState(event);
    });
    source.addEventListener('status', busState);
    source.addEventListener('heartbeat', busState);
    source.addEventListener('resync', () => void client.invalidateQueries());
    source.addEventListener('session', () => {
      source.close();
      void client.invalidateQueries({ queryKey: ['session'] });
    });
    source.addEventListener('update', (event) => applyUpdate(client, JSON.parse(event.data) as UpdateFrame));
    source.onerror = stale;
    return () => source.close();
  }, [client, enabled]);
  return status;
}

function applyUpdate(client: QueryClient, frame: UpdateFrame): void {
  const touched = new Set<string>();
  for (const event of frame.events) {
    touched.add(event.agentId);
    if (event.type === 'lifecycle.changed') {
      const { to } = event.data as { to: AgentCard['state'] };
      patchAgent(client, event.agentId, { state: to });
      recordMove(event.agentId, to);
    }
  }
  for (const [agentId, entry] of Object.entries(frame.quarantine)) {
    touched.add(agentId);
    patchAgent(client, agentId, { quarantined: entry !== null });
  }
  if (frame.events.some((event) => !event.type.startsWith('lifecycle.'))) {
    void client.invalidateQueries({ queryKey: ['approvals'] });
    void client.invalidateQueries({ queryKey: ['agents'] });
    void client.invalidateQueries({ queryKey: ['overview'] });
    // healing.succeeded / failed teach immune memory.
    void client.invalidateQueries({ queryKey: ['patterns'] });
  }
  for (const agentId of touched) void client.invalidateQueries({ queryKey: ['agent', agentId] });
  // An open incident page follows its case: any event may be one of its steps (cheap: one query when shown).
  if (frame.events.length > 0) void client.invalidateQueries({ queryKey: ['incident'] });
}

function patchAgent(client: QueryClient, agentId: string, patch: Partial<AgentCard>): void {
  let unknown = false;
  // Every window's list (the key is ['agents', window]).
  client.setQueriesData<{ agents: AgentCard[] }>({ queryKey: ['agents'] }, (previous) => {
    if (previous === undefined) return previous;
    if (!previous.agents.some((agent) => agent.agent_id === agentId)) unknown = true;
    return {
      agents: previous.agents.map((agent) => (agent.agent_id === agentId ? { ...agent, ...patch } : agent)),
    };
  });
  // A patch cannot add a card: an agent the cached list does not hold yet (new since it was fetched, or
  // fetched before the healer knew it) makes the list refetch.
  if (unknown) void client.invalidateQueries({ queryKey: ['agents'] });
}
