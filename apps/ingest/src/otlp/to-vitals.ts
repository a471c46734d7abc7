import type { Pricing, Vital } from '@immune/core';
import type { OtlpTraceRequest } from './model.js';
import { resourceAgent, spanAgent, type TraceAgents } from './span-agent.js';
import { readSpan } from './span-mapping.js';

export interface SpanVitals {
  vitals: Vital[];
  /** GenAI spans that could not become vitals (no agent identity): reported as `partialSuccess`. */
  rejected: number;
  /** Why, for `partialSuccess.errorMessage`. */
  reasons: string[];
  /** Spans that are no vitals (HTTP, chain, retrieval…): neither vitals nor rejected. */
  ignored: number;
}

export interface ToVitalsOptions {
  pricing: Pricing;
  traces: TraceAgents;
  /** The export request's `X-Immune-Agent`: names every span's agent. */
  headerAgent?: string;
  now?: number;
}

const MAX_INT4 = 2_147_483_647;

/**
 * Every span of one export as vitals. A vital's id is made of its trace and span ids, so a re-sent export
 * (exporters retry) gives the same ids and the bus's duplicate window and the table's key drop the copy.
 */
export function spansToVitals(request: OtlpTraceRequest, options: ToVitalsOptions): SpanVitals {
  const { pricing, traces, headerAgent } = options;
  const now = options.now ?? Date.now();
  // First pass: what each trace's spans say about their agent, so a child finds its parent's in this export.
  for (const { scopeSpans } of request.resourceSpans) {
    for (const { spans } of scopeSpans) {
      for (const span of spans) {
        const named = spanAgent(span.attributes);
        if (named !== undefined && span.traceId !== '') traces.set(span.traceId, named);
      }
    }
  }
  const result: SpanVitals = { vitals: [], rejected: 0, reasons: [], ignored: 0 };
  for (const { resource, scopeSpans } of request.resourceSpans) {
    const fromResource = headerAgent ?? resourceAgent(resource);
    for (const { spans } of scopeSpans) {
      for (const span of spans) {
        const reading = readSpan(span, pricing, now);
        if (reading === undefined) {
          result.ignored++;
          continue;
        }
        const agentId = fromResource ?? spanAgent(span.attributes) ?? traces.get(span.traceId);
        if (agentId === undefined) {
          result.rejected++;
          addReason(
            result,
            'a GenAI span with no agent identity (set X-Immune-Agent, immune.agent.id or service.name)',
          );
          continue;
        }
        if (!/^[0-9a-f]{1,32}$/.test(span.traceId) || !/^[0-9a-f]{1,16}$/.test(span.spanId)) {
          result.rejected++;
          addReason(result, 'a GenAI span without a valid trace id and span id');
          continue;
        }
        if (Math.max(reading.inputTokens, reading.outputTokens, reading.totalTokens) > MAX_INT4) {
          result.rejected++;
          addReason(result, 'a GenAI span with a token count beyond 2^31-1');
          continue;
        }
        result.vitals.push({
          id: `otlp-${span.traceId}-${span.spanId}`,
          agent_id: agentId,
          ts: reading.ts,
          source: 'otlp',
          kind: reading.kind,
          latency_ms: reading.latencyMs,
          input_tokens: reading.inputTokens,
          output_tokens: reading.outputTokens,
          total_tokens: reading.totalTokens,
          tool_calls: reading.toolCalls,
          retries: 0,
          cost: reading.cost,
          success: reading.success,
          trace_id: span.traceId,
          ...(reading.model === undefined ? {} : { model: reading.model }),
          ...(reading.provider === undefined ? {} : { provider: reading.provider }),
          ...(reading.ttftMs === undefined ? {} : { ttft_ms: reading.ttftMs }),
          ...(reading.errorType === undefined ? {} : { error_type: reading.errorType }),
          ...(reading.promptHash === undefined ? {} : { prompt_hash: reading.promptHash }),
          ...(reading.toolName === undefined ? {} : { tool_name: reading.toolName }),
        });
      }
    }
  }
  return result;
}

function addReason(result: SpanVitals, reason: string): void {
  if (!result.reasons.includes(reason)) result.reasons.push(reason);
}
