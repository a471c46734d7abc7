import type { IncomingHttpHeaders } from 'node:http';

/** Headers about one connection, never forwarded in either direction (RFC 9110 7.6.1), plus the ones we set. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/**
 * The request headers sent upstream: every end-to-end header as the client sent it (`Authorization`,
 * `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID`, `Mcp-*`, `traceparent`, ...), the original host and
 * scheme as `X-Forwarded-*`, and `accept-encoding: identity` so the proxy can read what it forwards.
 */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  forwarded: { host: string | undefined; proto: string; for: string },
  bodyLength: number | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  out['accept-encoding'] = 'identity';
  if (forwarded.host !== undefined) out['x-forwarded-host'] = forwarded.host;
  out['x-forwarded-proto'] = forwarded.proto;
  const prior = out['x-forwarded-for'];
  out['x-forwarded-for'] = prior === undefined ? forwarded.for : `${prior}, ${forwarded.for}`;
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

/**
 * The response headers sent to the client: the upstream's (`WWW-Authenticate`, `Mcp-Session-Id`, `Retry-After`,
 * caching headers, ...), minus hop-by-hop ones. The length stays when the body passes unchanged.
 */
export function clientHeaders(
  headers: Record<string, string | string[] | undefined>,
  keepLength: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'content-length' ? !keepLength : HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}
