import { DEFAULT_SERVER_TIMEOUTS, type ServerTimeouts } from './server-timeouts.js';

/**
 * What one client may cost a server before it is refused: header size, open connections and the socket
 * timeouts. Every service reads them from the same variables (`HttpEnv`), documented in docs/architecture.md
 * ("Limits"). The body limit stays a separate option because some services cap it lower than BODY_LIMIT_BYTES.
 */
export interface HttpLimits {
  /** Request line plus headers, bytes; beyond it the client gets 431 (Node's `maxHeaderSize`). */
  maxHeaderBytes: number;
  /** Open connections at once; extra connections are closed on arrival (Node's `maxConnections`). */
  maxConnections: number;
  timeouts: ServerTimeouts;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxConnections: 10_000,
  timeouts: DEFAULT_SERVER_TIMEOUTS,
});

/** The `HttpEnv` variables a service's config carries. */
export interface HttpLimitsEnv {
  HTTP_MAX_HEADER_BYTES: number;
  HTTP_MAX_CONNECTIONS: number;
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
}

/**
 * The limits a service's config asks for. Node enforces the headers and request timeouts only when it checks
 * its connections, so the check runs four times per headers timeout (at most every 30 s): a timeout fires at
 * most a quarter late, and a test with short timeouts sees them fire promptly.
 */
export function httpLimits(env: HttpLimitsEnv): HttpLimits {
  const headersTimeoutMs = Math.min(env.HTTP_HEADERS_TIMEOUT_MS, env.HTTP_REQUEST_TIMEOUT_MS);
  return {
    maxHeaderBytes: env.HTTP_MAX_HEADER_BYTES,
    maxConnections: env.HTTP_MAX_CONNECTIONS,
    timeouts: {
      headersTimeoutMs,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      // Off: a stream may stay silent for minutes while a model thinks (see server-timeouts.ts).
      idleSocketTimeoutMs: 0,
      timeoutCheckIntervalMs: Math.max(25, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
    },
  };
}
