import {
  type Attributes,
  type AttrValue,
  OtlpDecodeError,
  type OtlpResourceSpans,
  type OtlpSpan,
  type OtlpTraceRequest,
  type SpanEvent,
} from './model.js';

/*
 * OTLP/JSON (the OTLP specification's JSON mapping of protobuf, with its exceptions): lowerCamelCase keys,
 * trace and span ids as hex (a generic protobuf-JSON parser would read them as base64), enums as integers,
 * int64/fixed64 as a string or a number, `bytesValue` base64, unknown fields ignored. Missing fields take
 * their protobuf defaults; a field of the wrong shape makes the whole export undecodable.
 */

type Json = Record<string, unknown>;

export function decodeTraceRequestJson(text: string): OtlpTraceRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new OtlpDecodeError(`not JSON: ${(error as Error).message}`);
  }
  const root = record(body, 'body');
  return { resourceSpans: list(root.resourceSpans, 'resourceSpans').map(resourceSpansOf) };
}

function resourceSpansOf(value: unknown, index: number): OtlpResourceSpans {
  const at = `resourceSpans[${index}]`;
  const item = record(value, at);
  const resource = item.resource === undefined ? {} : record(item.resource, `${at}.resource`);
  return {
    resource: attributesOf(resource.attributes, `${at}.resource.attributes`),
    scopeSpans: list(item.scopeSpans, `${at}.scopeSpans`).map((scopeValue, s) => {
      const scopeAt = `${at}.scopeSpans[${s}]`;
      const scopeSpans = record(scopeValue, scopeAt);
      const scope = scopeSpans.scope === undefined ? {} : record(scopeSpans.scope, `${scopeAt}.scope`);
      return {
        scopeName: stringOf(scope.name, `${scopeAt}.scope.name`),
        spans: list(scopeSpans.spans, `${scopeAt}.spans`).map((span, i) =>
          spanOf(span, `${scopeAt}.spans[${i}]`),
        ),
      };
    }),
  };
}

function spanOf(value: unknown, at: string): OtlpSpan {
  const span = record(value, at);
  const status = span.status === undefined ? {} : record(span.status, `${at}.status`);
  return {
    traceId: hexId(span.traceId, `${at}.traceId`),
    spanId: hexId(span.spanId, `${at}.spanId`),
    parentSpanId: hexId(span.parentSpanId, `${at}.parentSpanId`),
    name: stringOf(span.name, `${at}.name`),
    kind: integerOf(span.kind, `${at}.kind`),
    startTimeUnixNano: nanosOf(span.startTimeUnixNano, `${at}.startTimeUnixNano`),
    endTimeUnixNano: nanosOf(span.endTimeUnixNano, `${at}.endTimeUnixNano`),
    attributes: attributesOf(span.attributes, `${at}.attributes`),
    events: list(span.events, `${at}.events`).map((event, i) => eventOf(event, `${at}.events[${i}]`)),
    status: {
      code: integerOf(status.code, `${at}.status.code`),
      message: stringOf(status.message, `${at}.status.message`),
    },
  };
}

function eventOf(value: unknown, at: string): SpanEvent {
  const event = record(value, at);
  return {
    name: stringOf(event.name, `${at}.name`),
    timeUnixNano: nanosOf(event.timeUnixNano, `${at}.timeUnixNano`),
    attributes: attributesOf(event.attributes, `${at}.attributes`),
  };
}

function attributesOf(value: unknown, at: string): Attributes {
  const attributes: Attributes = new Map();
  list(value, at).forEach((item, i) => {
    const kv = record(item, `${at}[${i}]`);
    const key = stringOf(kv.key, `${at}[${i}].key`);
    const decoded = kv.value === undefined ? undefined : anyValueOf(kv.value, `${at}[${i}].value`);
    if (decoded !== undefined) attributes.set(key, decoded);
  });
  return attributes;
}

function anyValueOf(value: unknown, at: string): AttrValue | undefined {
  const any = record(value, at);
  if (any.stringValue !== undefined) return stringOf(any.stringValue, `${at}.stringValue`);
  if (any.boolValue !== undefined) {
    if (typeof any.boolValue !== 'boolean') throw new OtlpDecodeError(`${at}.boolValue must be a boolean`);
    return any.boolValue;
  }
  if (any.intValue !== undefined) return integerOf(any.intValue, `${at}.intValue`);
  if (any.doubleValue !== undefined) return doubleOf(any.doubleValue, `${at}.doubleValue`);
  if (any.arrayValue !== undefined) {
    const array = record(any.arrayValue, `${at}.arrayValue`);
    return list(array.values, `${at}.arrayValue.values`).flatMap((item, i) => {
      const decoded = anyValueOf(item, `${at}.arrayValue.values[${i}]`);
      return decoded === undefined ? [] : [decoded];
    });
  }
  if (any.kvlistValue !== undefined) {
    const kvlist = record(any.kvlistValue, `${at}.kvlistValue`);
    return Object.fromEntries(attributesOf(kvlist.values, `${at}.kvlistValue.values`));
  }
  if (any.bytesValue !== undefined)
    return Buffer.from(stringOf(any.bytesValue, `${at}.bytesValue`), 'base64');
  return undefined;
}

function record(value: unknown, at: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new OtlpDecodeError(`${at} must be an object`);
  return value as Json;
}

function list(value: unknown, at: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpDecodeError(`${at} must be an array`);
  return value;
}

function stringOf(value: unknown, at: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new OtlpDecodeError(`${at} must be a string`);
  return value;
}

const HEX_ID = /^(?:[0-9a-fA-F]{2})*$/;

function hexId(value: unknown, at: string): string {
  const text = stringOf(value, at);
  if (!HEX_ID.test(text)) throw new OtlpDecodeError(`${at} must be hex (OTLP/JSON ids are hex, not base64)`);
  return text.toLowerCase();
}

const INTEGER = /^-?\d+$/;

function integerOf(value: unknown, at: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && INTEGER.test(value)) return Number(value);
  throw new OtlpDecodeError(`${at} must be an integer (a number or a decimal string)`);
}

function doubleOf(value: unknown, at: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  throw new OtlpDecodeError(`${at} must be a number`);
}

function nanosOf(value: unknown, at: string): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  // Nanosecond times above 2^53 arrive as numbers from some JSON encoders: precise to ~microseconds, enough.
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return BigInt(Math.round(value));
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  throw new OtlpDecodeError(`${at} must be an unsigned integer (a number or a decimal string)`);
}
