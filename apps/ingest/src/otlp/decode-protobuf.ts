import type {
  Attributes,
  AttrValue,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpTraceRequest,
  SpanEvent,
} from './model.js';
import { ProtoReader } from './protobuf-reader.js';

/*
 * `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest` from its protobuf encoding. Field numbers
 * are those of opentelemetry-proto v1 (trace.proto, common.proto, resource.proto); fields not listed are skipped.
 */

export function decodeTraceRequestProtobuf(buf: Uint8Array): OtlpTraceRequest {
  const reader = new ProtoReader(buf);
  const resourceSpans: OtlpResourceSpans[] = [];
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) resourceSpans.push(resourceSpansOf(reader.sub()));
    else reader.skip(wire);
  }
  return { resourceSpans };
}

function resourceSpansOf(reader: ProtoReader): OtlpResourceSpans {
  let resource: Attributes = new Map();
  const scopeSpans: OtlpScopeSpans[] = [];
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) resource = resourceOf(reader.sub());
    else if (field === 2 && wire === 2) scopeSpans.push(scopeSpansOf(reader.sub()));
    else reader.skip(wire);
  }
  return { resource, scopeSpans };
}

function resourceOf(reader: ProtoReader): Attributes {
  const attributes: Attributes = new Map();
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) keyValueInto(reader.sub(), attributes);
    else reader.skip(wire);
  }
  return attributes;
}

function scopeSpansOf(reader: ProtoReader): OtlpScopeSpans {
  let scopeName = '';
  const spans: OtlpSpan[] = [];
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) scopeName = scopeNameOf(reader.sub());
    else if (field === 2 && wire === 2) spans.push(spanOf(reader.sub()));
    else reader.skip(wire);
  }
  return { scopeName, spans };
}

function scopeNameOf(reader: ProtoReader): string {
  let name = '';
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) name = reader.string();
    else reader.skip(wire);
  }
  return name;
}

function spanOf(reader: ProtoReader): OtlpSpan {
  const span: OtlpSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: new Map(),
    events: [],
    status: { code: 0, message: '' },
  };
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) span.traceId = hexOf(reader.bytes());
    else if (field === 2 && wire === 2) span.spanId = hexOf(reader.bytes());
    else if (field === 4 && wire === 2) span.parentSpanId = hexOf(reader.bytes());
    else if (field === 5 && wire === 2) span.name = reader.string();
    else if (field === 6 && wire === 0) span.kind = reader.varint();
    else if (field === 7 && wire === 1) span.startTimeUnixNano = reader.fixed64();
    else if (field === 8 && wire === 1) span.endTimeUnixNano = reader.fixed64();
    else if (field === 9 && wire === 2) keyValueInto(reader.sub(), span.attributes);
    else if (field === 11 && wire === 2) span.events.push(eventOf(reader.sub()));
    else if (field === 15 && wire === 2) span.status = statusOf(reader.sub());
    else reader.skip(wire);
  }
  return span;
}

function eventOf(reader: ProtoReader): SpanEvent {
  const event: SpanEvent = { name: '', timeUnixNano: 0n, attributes: new Map() };
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 1) event.timeUnixNano = reader.fixed64();
    else if (field === 2 && wire === 2) event.name = reader.string();
    else if (field === 3 && wire === 2) keyValueInto(reader.sub(), event.attributes);
    else reader.skip(wire);
  }
  return event;
}

function statusOf(reader: ProtoReader): { code: number; message: string } {
  const status = { code: 0, message: '' };
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 2 && wire === 2) status.message = reader.string();
    else if (field === 3 && wire === 0) status.code = reader.varint();
    else reader.skip(wire);
  }
  return status;
}

function keyValueInto(reader: ProtoReader, into: Attributes | Map<string, AttrValue>): void {
  let key = '';
  let value: AttrValue | undefined;
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) key = reader.string();
    else if (field === 2 && wire === 2) value = anyValueOf(reader.sub());
    else reader.skip(wire);
  }
  if (value !== undefined) into.set(key, value);
}

function anyValueOf(reader: ProtoReader): AttrValue | undefined {
  let value: AttrValue | undefined;
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) value = reader.string();
    else if (field === 2 && wire === 0) value = reader.varint() !== 0;
    else if (field === 3 && wire === 0) value = reader.int64();
    else if (field === 4 && wire === 1) value = reader.double();
    else if (field === 5 && wire === 2) value = arrayOf(reader.sub());
    else if (field === 6 && wire === 2) value = kvlistOf(reader.sub());
    else if (field === 7 && wire === 2) value = reader.bytes();
    else reader.skip(wire);
  }
  return value;
}

function arrayOf(reader: ProtoReader): AttrValue[] {
  const values: AttrValue[] = [];
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) {
      const value = anyValueOf(reader.sub());
      if (value !== undefined) values.push(value);
    } else reader.skip(wire);
  }
  return values;
}

function kvlistOf(reader: ProtoReader): { [key: string]: AttrValue } {
  const map = new Map<string, AttrValue>();
  while (!reader.done()) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) keyValueInto(reader.sub(), map);
    else reader.skip(wire);
  }
  return Object.fromEntries(map);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX[byte];
  return out;
}
