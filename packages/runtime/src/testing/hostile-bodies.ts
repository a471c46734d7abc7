import fc from 'fast-check';

/** A request body and the content-type it is sent with (none: the header is left out). */
export interface HostileBody {
  /** What the case is, for the failure message. */
  kind: string;
  payload: Uint8Array;
  contentType: string | undefined;
}

/** Values that break code expecting a specific JSON type: huge, negative, fractional, empty, nested, prototype keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1,
    0,
    -0,
    1.5,
    2 ** 31,
    2 ** 53 + 2,
    -(2 ** 63),
    1e308,
    Number.MIN_VALUE,
    '',
    ' ',
    'x'.repeat(5000),
    '\u0000',
    '\ud800',
    '💥'.repeat(50),
    '../../etc/passwd',
    '<script>alert(1)</script>',
    null,
    true,
    false,
    [],
    {},
    [null],
    { __proto__: { polluted: true } },
    { constructor: { prototype: { polluted: true } } },
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/**
 * JSON shaped like `valid` (one route's schema) but wrong: fields replaced by hostile values, removed, or
 * joined by unknown and prototype keys; sometimes the valid body wrapped in an array or nested inside itself.
 */
export function wrongJson(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const fields = [...Object.keys(valid), ...PROTO_KEYS];
  const mutated = fc
    .tuple(
      fc.dictionary(fc.constantFrom(...fields), hostileValue, { maxKeys: 4 }),
      fc.subarray(Object.keys(valid), { maxLength: Math.min(3, Object.keys(valid).length) }),
      fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 2 }),
    )
    .map(([replaced, removed, extra]) => {
      const body: Record<string, unknown> = { ...valid, ...extra };
      for (const [key, value] of Object.entries(replaced))
        Object.defineProperty(body, key, { value, enumerable: true, writable: true, configurable: true });
      for (const key of removed) delete body[key];
      return body;
    });
  return fc.oneof(
    { weight: 6, arbitrary: mutated },
    { weight: 1, arbitrary: mutated.map((body) => [body]) },
    { weight: 1, arbitrary: mutated.map((body) => ({ ...valid, [Object.keys(valid)[0] ?? 'x']: body })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xff],
  [0xfe, 0xff],
  [0xed, 0xa0, 0x80],
];

const encoder = new TextEncoder();
const text = (value: string) => encoder.encode(value);

/** Raw JSON texts no serializer would produce: extreme nesting, number literals past double range, broken framing. */
const rawJsonTexts: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 100, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 100, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc
    .integer({ min: 100, max: 5_000 })
    .map((depth) => `{"model":"m","messages":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.constantFrom(
    '1e99999',
    '-1e99999',
    '{"model":1e400,"max_tokens":1e400}',
    '{"max_tokens":123456789012345678901234567890}',
    '{"a":1,"a":2,"a":{"__proto__":{"x":1}}}',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '',
    ' ',
    'null',
    '[]',
    '{}',
    '"string"',
    '{"a":',
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    '\ufeff{}',
    'NaN',
    '{"a":Infinity}',
  ),
);

/**
 * Hostile request bodies for a route whose valid body is `valid`: wrong-but-structured JSON, raw JSON texts
 * (deep nesting, huge numbers), invalid UTF-8 spliced into JSON, random bytes, and every one of those under a
 * right, wrong or missing content-type.
 */
export function hostileBodies(valid: Record<string, unknown>): fc.Arbitrary<HostileBody> {
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/x-protobuf',
        'application/octet-stream',
        'application/vnd.api+json',
        '*/*',
        'application/json, text/plain',
        ';;;',
      ),
    },
  );
  const payload: fc.Arbitrary<{ kind: string; payload: Uint8Array }> = fc.oneof(
    {
      weight: 5,
      arbitrary: wrongJson(valid).map((body) => ({
        kind: 'wrong json',
        payload: text(JSON.stringify(body) ?? 'null'),
      })),
    },
    { weight: 2, arbitrary: rawJsonTexts.map((body) => ({ kind: 'raw json text', payload: text(body) })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(wrongJson(valid), fc.constantFrom(...INVALID_UTF8), fc.nat())
        .map(([body, bad, at]) => {
          const json = text(JSON.stringify(body) ?? 'null');
          const cut = json.length === 0 ? 0 : at % json.length;
          return {
            kind: 'invalid utf-8 in json',
            payload: Uint8Array.from([...json.subarray(0, cut), ...bad, ...json.subarray(cut)]),
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ kind: 'random bytes', payload: bytes })),
    },
    {
      weight: 1,
      arbitrary: fc.string({ maxLength: 200 }).map((body) => ({ kind: 'random text', payload: text(body) })),
    },
  );
  // A short description in counterexamples: a 20 000-deep array printed byte by byte helps nobody.
  return fc.tuple(payload, contentType).map(([body, type]) => ({
    ...body,
    contentType: type,
    [fc.toStringMethod]: () =>
      `${body.kind} (${body.payload.length} bytes, content-type ${type ?? 'none'}): ${JSON.stringify(new TextDecoder().decode(body.payload.subarray(0, 160)))}`,
  }));
}

/**
 * The problems of one fuzzed answer: a 5xx (unless `allowed5xx` lists it), or a 4xx whose body is not JSON
 * naming the problem (`error.message`, and `error.code` or `error.type`; or Ollama's `error` string; OTLP's `{ code, message }`). Empty when the answer is sound.
 */
export function answerProblems(
  status: number,
  contentType: string | null,
  body: string,
  allowed5xx: readonly number[] = [],
): string[] {
  if (status >= 500 && !allowed5xx.includes(status)) return [`answered ${status}: ${body.slice(0, 300)}`];
  if (status < 400) return [];
  if (!/json/.test(contentType ?? ''))
    return [`a ${status} that is not JSON (${contentType ?? 'none'}): ${body.slice(0, 200)}`];
  try {
    const parsed = JSON.parse(body) as {
      error?: string | { code?: unknown; type?: unknown; message?: unknown };
      code?: unknown;
      message?: unknown;
    };
    // OTLP/HTTP answers failures with a google.rpc.Status, `{ code, message }`, as its specification requires.
    if (parsed.error === undefined && typeof parsed.code === 'number' && typeof parsed.message === 'string')
      return parsed.message === '' ? [`a ${status} with an empty message`] : [];
    const error = parsed.error;
    // Ollama's native API, which the gateway speaks to Ollama clients, carries its error as one string.
    if (typeof error === 'string') return error === '' ? [`a ${status} with an empty error`] : [];
    // A number is JSON-RPC's error code (MCP); a string is ours or a provider's.
    const named =
      typeof error?.code === 'string' || typeof error?.code === 'number' || typeof error?.type === 'string';
    if (!named || typeof error?.message !== 'string' || error.message === '')
      return [`a ${status} that does not name the problem: ${body.slice(0, 300)}`];
  } catch {
    return [`a ${status} whose body is not JSON: ${body.slice(0, 200)}`];
  }
  return [];
}
