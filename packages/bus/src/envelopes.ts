import { randomUUID } from 'node:crypto';
import type { Vital } from '@immune/core';
import type { EventData, EventEnvelope, EventType, VitalEnvelope } from './messages.js';

export function vitalEnvelope(vital: Vital): VitalEnvelope {
  return { v: 1, id: vital.id, ts: vital.ts, type: 'vital', agentId: vital.agent_id, data: vital };
}

export function eventEnvelope<T extends EventType>(
  type: T,
  agentId: string,
  data: EventData<T>,
  options: { id?: string; ts?: number } = {},
): EventEnvelope<T> {
  return {
    v: 1,
    id: options.id ?? randomUUID(),
    ts: options.ts ?? Date.now(),
    type,
    agentId,
    data,
  } as EventEnvelope<T>;
}
