import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcId, JsonRpcMessage } from '../jsonrpc.js';

/** Protocol revisions that mirror the body into `Mcp-Method` / `Mcp-Name` headers (stateless MCP). */
const HEADER_MIRRORING_SINCE = '2026-07-28';
/** The revision a request without `MCP-Protocol-Version` speaks (2025-06-18 transport rules). */
export const DEFAULT_PROTOCOL_VERSION = '2025-03-26';

/** What the proxy needs from a client's POST body. */
export interface RequestFacts {
  batch: boolean;
  /** Ids of every request in the body (their answers belong to this exchange). */
  requestIds: JsonRpcId[];
  toolCalls: Array<{ id: JsonRpcId; params: Record<string, unknown> | undefined }>;
  /** `notifications/cancelled` request ids. */
  cancelled: JsonRpcId[];
}

export function factsOf(batch: boolean, messages: readonly JsonRpcMessage[]): RequestFacts {
  const facts: RequestFacts = { batch, requestIds: [], toolCalls: [], cancelled: [] };
  for (const message of messages) {
    if (message.kind === 'request') {
      facts.requestIds.push(message.id);
      if (message.method === 'tools/call') facts.toolCalls.push({ id: message.id, params: message.params });
    } else if (message.kind === 'notification' && message.method === 'notifications/cancelled') {
      const requestId = message.params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') facts.cancelled.push(requestId);
    }
  }
  return facts;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function protocolVersionOf(headers: IncomingHttpHeaders): string {
  return header(headers, 'mcp-protocol-version') ?? DEFAULT_PROTOCOL_VERSION;
}

/**
 * The session an exchange belongs to: Streamable HTTP's `Mcp-Session-Id`, or the legacy HTTP+SSE transport's
 * `sessionId` query parameter on its message endpoint.
 */
export function sessionOf(
  headers: IncomingHttpHeaders,
  rawUrl: string,
): { id: string; legacy: boolean } | undefined {
  const streamable = header(headers, 'mcp-session-id');
  if (streamable !== undefined && streamable !== '') return { id: streamable, legacy: false };
  const q = rawUrl.indexOf('?');
  if (q === -1) return undefined;
  const legacy = new URLSearchParams(rawUrl.slice(q + 1)).get('sessionId');
  return legacy ? { id: legacy, legacy: true } : undefined;
}

/** The legacy session id an `endpoint` event announces (`/messages?sessionId=...`). */
export function sessionOfEndpoint(endpoint: string): string | undefined {
  const q = endpoint.indexOf('?');
  if (q === -1) return undefined;
  return new URLSearchParams(endpoint.slice(q + 1)).get('sessionId') ?? undefined;
}

const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/;

function decodeHeaderValue(value: string): string {
  const encoded = BASE64_SENTINEL.exec(value)?.[1];
  return encoded === undefined ? value : Buffer.from(encoded, 'base64').toString('utf8');
}

/**
 * MCP 2026-07-28 mirrors the method and the tool, prompt or resource name into headers; a proxy that decides on
 * the body must refuse a request whose headers say something else (a component routing on the header would
 * otherwise run another tool than the one the proxy allowed). Returns the mismatch, or undefined.
 */
export function headerMismatch(
  headers: IncomingHttpHeaders,
  message: JsonRpcMessage,
  protocolVersion: string,
): string | undefined {
  if (protocolVersion < HEADER_MIRRORING_SINCE || message.kind !== 'request') return undefined;
  const method = header(headers, 'mcp-method');
  if (method === undefined) return 'the Mcp-Method header is missing';
  if (method !== message.method)
    return `Mcp-Method header value '${method}' does not match body value '${message.method}'`;
  const source =
    message.method === 'tools/call' || message.method === 'prompts/get'
      ? message.params?.name
      : message.method === 'resources/read'
        ? message.params?.uri
        : undefined;
  if (typeof source !== 'string') return undefined;
  const name = header(headers, 'mcp-name');
  if (name === undefined) return 'the Mcp-Name header is missing';
  const decoded = decodeHeaderValue(name);
  if (decoded !== source) return `Mcp-Name header value '${name}' does not match body value '${source}'`;
  return undefined;
}
