import type { HttpServer } from './types.js';

/** How often connections that finished their last response are closed while the server drains. */
const IDLE_REAP_INTERVAL_MS = 200;

/**
 * Stops accepting connections and waits for in-flight requests, streams included, to finish. A kept-alive
 * connection whose request completes after closing began would otherwise hold `close()` open until its
 * keep-alive timeout, so idle connections are reaped as they appear. When `signal` aborts (the phase timed
 * out), every remaining connection is cut.
 */
export async function closeHttpServer(server: HttpServer, signal: AbortSignal): Promise<void> {
  const raw = server.server;
  const reaper = setInterval(() => raw.closeIdleConnections(), IDLE_REAP_INTERVAL_MS);
  const cutAll = () => raw.closeAllConnections();
  signal.addEventListener('abort', cutAll, { once: true });
  try {
    await server.close();
  } finally {
    clearInterval(reaper);
    signal.removeEventListener('abort', cutAll);
  }
}
