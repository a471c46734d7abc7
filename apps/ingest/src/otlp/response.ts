/*
 * OTLP/HTTP response bodies, in the request's encoding: `ExportTraceServiceResponse` (with `partialSuccess`
 * when spans were rejected) on 200, `google.rpc.Status` on every failure.
 */

export type OtlpEncoding = 'protobuf' | 'json';

export const CONTENT_TYPES: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

export function exportResponse(
  encoding: OtlpEncoding,
  partial?: { rejectedSpans: number; errorMessage: string },
): Buffer | string {
  if (encoding === 'json') {
    // int64 as a string, as the protobuf JSON mapping writes it.
    return JSON.stringify(
      partial === undefined
        ? {}
        : {
            partialSuccess: {
              rejectedSpans: String(partial.rejectedSpans),
              errorMessage: partial.errorMessage,
            },
          },
    );
  }
  if (partial === undefined) return Buffer.alloc(0);
  const inner = Buffer.concat([varintField(1, partial.rejectedSpans), stringField(2, partial.errorMessage)]);
  return lengthDelimited(1, inner);
}

/** `google.rpc.Status { code, message }`; the code is the gRPC code matching the HTTP status. */
export function statusBody(encoding: OtlpEncoding, httpStatus: number, message: string): Buffer | string {
  const code = grpcCodeOf(httpStatus);
  if (encoding === 'json') return JSON.stringify({ code, message });
  return Buffer.concat([varintField(1, code), stringField(2, message)]);
}

/** The mapping of the gRPC HTTP/2 spec (and OTLP's own table), for the statuses this receiver answers. */
function grpcCodeOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 413:
      return 8; // RESOURCE_EXHAUSTED
    case 415:
      return 3; // INVALID_ARGUMENT
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function varintField(field: number, value: number): Buffer {
  return value === 0 ? Buffer.alloc(0) : Buffer.concat([varint(field * 8), varint(value)]);
}

function stringField(field: number, value: string): Buffer {
  return value === '' ? Buffer.alloc(0) : lengthDelimited(field, Buffer.from(value, 'utf8'));
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(field * 8 + 2), varint(payload.length), payload]);
}
