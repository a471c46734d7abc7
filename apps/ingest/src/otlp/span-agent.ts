import { isValidAgentId } from '@immune/core';
import type { Attributes } from './model.js';

/*
 * Who an exported span belongs to. In order: the export's `X-Immune-Agent` header (OTEL_EXPORTER_OTLP_HEADERS),
 * the resource's `immune.agent.id`, `gen_ai.main_agent.id`, `service.name` unless it is the SDK's default, then
 * the span's own `gen_ai.agent.id` / `gen_ai.agent.name`, then another span of the same trace that named one
 * (children are exported before their parents, so the trace → agent mapping is kept a while).
 */

export const RESOURCE_AGENT_KEYS = ['immune.agent.id', 'gen_ai.main_agent.id', 'service.name'] as const;
export const SPAN_AGENT_KEYS = ['gen_ai.agent.id', 'gen_ai.agent.name'] as const;

function usable(value: unknown, key: string): string | undefined {
  if (typeof value !== 'string' || !isValidAgentId(value)) return undefined;
  // Every SDK names an unnamed service `unknown_service` or `unknown_service:<process>`: not an identity.
  if (key === 'service.name' && value.startsWith('unknown_service')) return undefined;
  return value;
}

export function resourceAgent(resource: Attributes): string | undefined {
  for (const key of RESOURCE_AGENT_KEYS) {
    const found = usable(resource.get(key), key);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function spanAgent(attributes: Attributes): string | undefined {
  for (const key of SPAN_AGENT_KEYS) {
    const found = usable(attributes.get(key), key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** trace id → agent, bounded: the oldest entry goes first (a Map iterates in insertion order). */
export class TraceAgents {
  private readonly byTrace = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  get(traceId: string): string | undefined {
    return this.byTrace.get(traceId);
  }

  set(traceId: string, agentId: string): void {
    this.byTrace.delete(traceId);
    this.byTrace.set(traceId, agentId);
    if (this.byTrace.size > this.capacity) {
      const oldest = this.byTrace.keys().next().value;
      if (oldest !== undefined) this.byTrace.delete(oldest);
    }
  }
}
