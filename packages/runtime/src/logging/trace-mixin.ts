import { isSpanContextValid, trace } from '@opentelemetry/api';

export interface TraceFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/**
 * pino mixin: the ids of the span active where the line is logged, so a log line links to its trace. Reads the
 * OpenTelemetry API only; with no SDK started there is no active span and nothing is added.
 */
export function traceMixin(): TraceFields {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return {};
  return {
    trace_id: context.traceId,
    span_id: context.spanId,
    trace_flags: `0${context.traceFlags.toString(16)}`.slice(-2),
  };
}
