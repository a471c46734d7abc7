import type { IncomingHttpHeaders } from 'node:http';
import { keyHeaderOf, type Provider } from '../routing/providers.js';

/** Headers that describe one connection, not the message; never forwarded in either direction. */
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

const CLIENT_AUTH = ['authorization', 'x-api-key', 'api-key'];

/**
 * The request headers sent upstream: the client's, minus hop-by-hop ones, asking for an uncompressed answer
 * (the gateway reads usage from it; clients always accept identity), and with the provider's own key when
 * the provider does not pass the agent's key through.
 */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  provider: Provider,
  env: Readonly<Record<string, string | undefined>>,
  bodyLength: number | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = typeof value === 'string' ? value : value.join(', ');
  }
  out['accept-encoding'] = 'identity';
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  const auth = provider.auth;
  if (auth !== undefined && auth !== 'passthrough') {
    const key = env[auth.env];
    for (const name of CLIENT_AUTH) delete out[name];
    if (key) {
      const header = keyHeaderOf(provider);
      out[header] = header === 'authorization' ? `Bearer ${key}` : key;
    }
  }
  return out;
}

/** The response headers sent to the client: the upstream's, minus hop-by-hop ones. */
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
