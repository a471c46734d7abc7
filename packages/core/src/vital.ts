import Type, { type Static } from 'typebox';

/**
 * Where a vital was observed. The gateway and MCP proxy see traffic directly; ingest carries reports from
 * agents that cannot go through the gateway; otlp comes from gen_ai.* spans.
 */
export const VitalSource = Type.Union([
  Type.Literal('gateway'),
  Type.Literal('mcp'),
  Type.Literal('ingest'),
  Type.Literal('otlp'),
]);
export type VitalSource = Static<typeof VitalSource>;

/** What one vital describes: an LLM call, an MCP tool call, or a task the agent reported. */
export const VitalKind = Type.Union([Type.Literal('llm'), Type.Literal('tool'), Type.Literal('task')]);
export type VitalKind = Static<typeof VitalKind>;

const Count = (description: string) => Type.Integer({ minimum: 0, description });

/**
 * One observation of an agent. Field names are snake_case because this is the wire format on the bus, in the
 * ingest API and in the database, and one spelling everywhere avoids a mapping layer.
 */
export const Vital = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128, description: 'Unique id; the bus dedupes on it' }),
    agent_id: Type.String({ minLength: 1, maxLength: 256 }),
    ts: Type.Integer({ minimum: 0, description: 'Epoch milliseconds when the call finished' }),
    source: VitalSource,
    kind: VitalKind,
    model: Type.Optional(Type.String({ maxLength: 256 })),
    provider: Type.Optional(Type.String({ maxLength: 128 })),
    latency_ms: Type.Number({ minimum: 0 }),
    ttft_ms: Type.Optional(Type.Number({ minimum: 0, description: 'Time to first token, streams only' })),
    input_tokens: Count('Prompt tokens'),
    output_tokens: Count('Completion tokens'),
    total_tokens: Count('input_tokens + output_tokens unless the provider says otherwise'),
    tool_calls: Count('Tool calls requested by the model, or 1 for an MCP tool call'),
    retries: Count('Times this same request was seen within the retry window before this one'),
    cost: Type.Number({ minimum: 0, description: 'USD' }),
    success: Type.Boolean(),
    error_type: Type.Optional(Type.String({ maxLength: 128 })),
    prompt_hash: Type.Optional(
      Type.String({ maxLength: 128, description: 'SHA-256 hex of the system prompt' }),
    ),
    request_hash: Type.Optional(
      Type.String({ maxLength: 128, description: 'Hash of the request, for loop and retry detection' }),
    ),
    tool_name: Type.Optional(Type.String({ maxLength: 256 })),
    mcp_server: Type.Optional(Type.String({ maxLength: 256 })),
    trace_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type Vital = Static<typeof Vital>;

/** The numeric metrics that get a per-agent EWMA baseline, in a fixed order used by compact state. */
export const BASELINE_METRICS = [
  'total_tokens',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'tool_calls',
  'cost',
] as const;
export type BaselineMetric = (typeof BASELINE_METRICS)[number];
