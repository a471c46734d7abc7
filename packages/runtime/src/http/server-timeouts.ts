/**
 * Socket timeouts chosen for a proxy that streams LLM and MCP responses for many minutes.
 *
 * - `requestTimeoutMs` (120 s): time to receive the whole request (headers and body) from the client. It does not
 *   cover the response, so a 10-minute SSE stream is unaffected, while a client trickling a body is cut.
 * - `headersTimeoutMs` (30 s): time to receive the request headers; stops slowloris-style connections.
 * - `keepAliveTimeoutMs` (72 s): idle time between requests on a kept-alive connection. Longer than the 60 s
 *   idle timeout of common load balancers, so the balancer, not this server, closes idle connections and never
 *   sends a request into a socket that is being closed.
 * - `idleSocketTimeoutMs` (0 = off): inactivity on an open request. Off, because a stream may be silent for
 *   minutes while a model thinks; streams that must stay alive through proxies send their own heartbeats.
 * - `timeoutCheckIntervalMs` (30 s, Node's default): how often Node enforces the request and headers timeouts,
 *   so they fire up to this much late.
 */
export interface ServerTimeouts {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleSocketTimeoutMs: number;
  timeoutCheckIntervalMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: Readonly<ServerTimeouts> = Object.freeze({
  requestTimeoutMs: 120_000,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  idleSocketTimeoutMs: 0,
  timeoutCheckIntervalMs: 30_000,
});
