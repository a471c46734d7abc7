import type { FastifyPluginOptions } from 'fastify';
import { createHttpServer, type MetricsRegistry } from '../http/create-http-server.js';
import type { HttpLimits } from '../http/server-limits.js';
import type { HttpPlugin } from '../http/types.js';
import type { ServiceContext } from './run-service.js';

export interface ServeAppOptions {
  /** Records request metrics and serves `GET /metrics`: the service's `telemetry`. */
  metrics: MetricsRegistry;
  /** HOST */
  host: string;
  /** `<SERVICE>_PORT`; 0 picks a free port. */
  port: number;
  /** BODY_LIMIT_BYTES */
  bodyLimitBytes?: number;
  /** Header, connection and timeout limits: `httpLimits(config)`; the runtime's defaults when omitted. */
  limits?: HttpLimits;
  /** Behind a reverse proxy: trust its `X-Forwarded-*` headers (see `HttpServerOptions.trustProxy`). */
  trustProxy?: boolean;
}

/**
 * Serves a service's `app.ts` plugin on the runtime's server (`/healthz`, `/readyz`, `/metrics`, JSON errors,
 * request ids and metrics), listens, and registers the close in the `http` phase. Resolves to the bound port.
 */
export async function serveApp<O extends FastifyPluginOptions>(
  context: ServiceContext,
  app: HttpPlugin<O>,
  appOptions: O,
  options: ServeAppOptions,
): Promise<number> {
  const server = createHttpServer({
    logger: context.logger,
    readiness: context.readiness,
    metrics: options.metrics,
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.limits === undefined
      ? {}
      : {
          maxHeaderBytes: options.limits.maxHeaderBytes,
          maxConnections: options.limits.maxConnections,
          timeouts: options.limits.timeouts,
        }),
  });
  await server.register(app, appOptions);
  return context.listen(server, { host: options.host, port: options.port });
}
