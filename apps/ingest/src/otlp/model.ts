/**
 * The parts of an OTLP `ExportTraceServiceRequest` that become vitals, the same whichever encoding (protobuf or
 * JSON) it arrived in. Ids are lower-case hex; times are nanoseconds since the epoch as BigInt (fixed64 does
 * not fit a double).
 */

/** An attribute value: OTLP's AnyValue. int64 becomes a number (token counts are far below 2^53). */
export type AttrValue = string | number | boolean | Uint8Array | AttrValue[] | { [key: string]: AttrValue };

export type Attributes = Map<string, AttrValue>;

export interface SpanEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

/** OTLP `Status.StatusCode`: 0 unset, 1 ok, 2 error. */
export const STATUS_ERROR = 2;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  status: { code: number; message: string };
}

export interface OtlpScopeSpans {
  scopeName: string;
  spans: OtlpSpan[];
}

export interface OtlpResourceSpans {
  resource: Attributes;
  scopeSpans: OtlpScopeSpans[];
}

export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

/** An export that cannot be decoded at all: answered 400, never retried. */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}
