/**
 * Just enough of JSON-RPC 2.0 to observe MCP: what a message is (request, notification, response), its id, and
 * the error objects the proxy itself answers with. The proxy never re-serialises a message it forwards.
 */

export type JsonRpcId = string | number;

export type JsonRpcMessage =
  | { kind: 'request'; id: JsonRpcId; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'notification'; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'result'; id: JsonRpcId; result: unknown }
  | { kind: 'error'; id: JsonRpcId | null; code: number; message: string }
  | { kind: 'invalid' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idOf(value: unknown): JsonRpcId | undefined {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
    ? value
    : undefined;
}

/** Classifies one parsed JSON value as a JSON-RPC message. */
export function classify(value: unknown): JsonRpcMessage {
  if (!isRecord(value)) return { kind: 'invalid' };
  const params = isRecord(value.params) ? value.params : undefined;
  if (typeof value.method === 'string') {
    const id = idOf(value.id);
    if (id !== undefined) return { kind: 'request', id, method: value.method, params };
    return value.id === undefined
      ? { kind: 'notification', method: value.method, params }
      : { kind: 'invalid' };
  }
  const id = idOf(value.id);
  if ('result' in value && id !== undefined) return { kind: 'result', id, result: value.result };
  if (isRecord(value.error)) {
    const code = typeof value.error.code === 'number' ? value.error.code : 0;
    const message = typeof value.error.message === 'string' ? value.error.message : '';
    return { kind: 'error', id: id ?? null, code, message };
  }
  return { kind: 'invalid' };
}

/** A body (one message or a batch) as messages; undefined when it is not JSON at all. */
export function parseMessages(text: string): { batch: boolean; messages: JsonRpcMessage[] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (Array.isArray(value)) return { batch: true, messages: value.map(classify) };
  return { batch: false, messages: [classify(value)] };
}

/**
 * Error codes of the proxy's own answers. JSON-RPC reserves -32768..-32000 (and MCP uses that range), so these
 * sit outside it: a client never mistakes a refusal for a protocol failure of the server.
 */
export const PROXY_ERROR = {
  /** The agent is quarantined: nothing it sends is forwarded. */
  agentQuarantined: -31001,
  /** A tool policy refuses this tool (deny list, allow list, tools revoked). */
  toolRefused: -31002,
  /** A tool policy's calls-per-minute limit is reached. */
  toolRateLimited: -31003,
  /** Soft containment: the agent's tool calls are throttled. */
  agentThrottled: -31004,
} as const;

/** JSON-RPC codes the proxy uses with their standard meaning. */
export const STANDARD_ERROR = {
  invalidRequest: -32600,
  /** MCP 2026-07-28: the Mcp-* headers do not match the body. */
  headerMismatch: -32020,
} as const;

export interface ErrorObject {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: { code: number; message: string; data?: Record<string, unknown> };
}

export function errorObject(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: Record<string, unknown>,
): ErrorObject {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** The JSON-RPC id as a key component: `"1"` and `1` are different ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}
