import { createHash, randomUUID } from 'node:crypto';
import type { Vital } from '@immune/core';

/** What the proxy knows about one `tools/call` between its request and its result. */
export interface ToolCall {
  agentId: string;
  tool: string;
  server: string;
  /** Epoch ms (fractional) when the request was forwarded. */
  startedAt: number;
  requestHash: string;
  traceId: string | undefined;
  /** Chosen at the request, so whichever replica settles the call publishes the same vital id. */
  vitalId: string;
}

/** How a call ended; `error_type` values are listed in docs/mcp-proxy.md. */
export type CallOutcome = { success: true } | { success: false; errorType: string };

/**
 * JSON with object keys sorted and no whitespace, so two calls with the same arguments hash alike however the
 * client ordered or spaced them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
}

/**
 * Identifies a repeated tool call for the sentinel's loop detection: agent, server, tool and the arguments as
 * canonical JSON. `_meta` (progress tokens, trace context) and the JSON-RPC id are left out: they differ on
 * every call, the loop is in the arguments.
 */
export function requestHashOf(agentId: string, server: string, tool: string, args: unknown): string {
  return createHash('sha256')
    .update(agentId)
    .update('\0')
    .update(server)
    .update('\0')
    .update(tool)
    .update('\0')
    .update(canonicalJson(args ?? {}))
    .digest('hex')
    .slice(0, 32);
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;

/** The trace id of a W3C `traceparent` (from `params._meta.traceparent`, else the HTTP header). */
export function traceIdOf(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const id = TRACEPARENT.exec(traceparent)?.[1];
  return id === undefined || /^0+$/.test(id) ? undefined : id;
}

export function startToolCall(input: {
  agentId: string;
  server: string;
  params: Record<string, unknown> | undefined;
  headerTraceparent: string | undefined;
  now: number;
}): ToolCall {
  const params = input.params ?? {};
  const tool = typeof params.name === 'string' ? params.name : '';
  const meta = params._meta;
  const metaTrace =
    typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).traceparent : undefined;
  return {
    agentId: input.agentId,
    tool,
    server: input.server,
    startedAt: input.now,
    requestHash: requestHashOf(input.agentId, input.server, tool, params.arguments),
    traceId: traceIdOf(metaTrace) ?? traceIdOf(input.headerTraceparent),
    vitalId: randomUUID(),
  };
}

/** The one vital of a finished call. */
export function toolVital(call: ToolCall, outcome: CallOutcome, now: number): Vital {
  const vital: Vital = {
    id: call.vitalId,
    agent_id: call.agentId,
    ts: Math.floor(now),
    source: 'mcp',
    kind: 'tool',
    latency_ms: Math.max(0, now - call.startedAt),
    input_tokens: 0,
    output_tokens: 0,
    total_tokens: 0,
    tool_calls: 1,
    retries: 0,
    cost: 0,
    success: outcome.success,
    request_hash: call.requestHash,
    tool_name: call.tool.slice(0, 256),
    mcp_server: call.server,
  };
  if (!outcome.success) vital.error_type = outcome.errorType;
  if (call.traceId !== undefined) vital.trace_id = call.traceId;
  return vital;
}

/** The outcome a JSON-RPC answer to `tools/call` stands for. `result.isError` is a tool failure. */
export function outcomeOfResult(result: unknown): CallOutcome | 'input_required' {
  if (typeof result === 'object' && result !== null) {
    const r = result as Record<string, unknown>;
    if (r.resultType === 'input_required') return 'input_required';
    if (r.isError === true) return { success: false, errorType: 'tool_error' };
  }
  return { success: true };
}
