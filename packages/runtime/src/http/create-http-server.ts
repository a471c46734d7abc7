import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Meter } from '@opentelemetry/api';
import { type FastifyBaseLogger, fastify, type RawServerDefault } from 'fastify';
import type { Readiness } from '../lifecycle/readiness.js';
import { instruments } from '../telemetry/instruments.js';
import type { MetricsSource } from '../telemetry/prometheus-metrics.js';
import { createClientErrorHandler } from './client-error.js';
import { type ErrorReply, toErrorReply } from './error-response.js';
import { registerRequestMetrics } from './request-metrics.js';
import { registerRuntimeRoutes } from './runtime-routes.js';
import { DEFAULT_HTTP_LIMITS } from './server-limits.js';
import type { ServerTimeouts } from './server-timeouts.js';
import type { HttpServer } from './types.js';

/** Where request metrics are recorded and `GET /metrics` reads from: a `Telemetry` or `PrometheusMetrics`. */
export interface MetricsRegistry extends MetricsSource {
  meter(name?: string, version?: string): Meter;
}

export interface HttpServerOptions {
  logger: FastifyBaseLogger;
  /** Drives `GET /readyz`; the service marks it ready, shutdown marks it draining. */
  readiness: Readiness;
  metrics: MetricsRegistry;
  /** BODY_LIMIT_BYTES; 10 MiB when omitted. */
  bodyLimitBytes?: number;
  timeouts?: Partial<ServerTimeouts>;
  /** HTTP_MAX_HEADER_BYTES; 16 KiB when omitted. */
  maxHeaderBytes?: number;
  /** HTTP_MAX_CONNECTIONS; 10 000 when omitted. */
  maxConnections?: number;
  /** Set behind a reverse proxy so `request.ip` is the client's; see fastify's `trustProxy`. */
  trustProxy?: boolean | string | string[];
}

const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The fastify instance every service serves from, with what all services share already in place: `/healthz`,
 * `/readyz`, `/metrics`, request ids (`x-request-id`, taken from the client when well-formed), request metrics,
 * JSON errors `{ error: { code, message, details? } }` for every failure (also for requests the HTTP parser
 * refuses: malformed, headers too large, too slow), body, header and connection limits and stream-friendly
 * timeouts. Services add their routes as plugins: `server.register(app, deps)`.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const timeouts = { ...DEFAULT_HTTP_LIMITS.timeouts, ...options.timeouts };
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_HTTP_LIMITS.maxHeaderBytes;
  const headersTimeoutMs = Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs || Infinity);
  const refusals = instruments(options.metrics.meter()).counter('http_server_client_errors', {
    description: 'connections refused before any route ran (malformed HTTP, headers too large, timeouts)',
  });
  const app = fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: options.logger,
    bodyLimit,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    connectionTimeout: timeouts.idleSocketTimeoutMs,
    http: { connectionsCheckingInterval: timeouts.timeoutCheckIntervalMs, maxHeaderSize: maxHeaderBytes },
    clientErrorHandler: createClientErrorHandler(
      options.logger,
      { maxHeaderBytes, headersTimeoutMs, requestTimeoutMs: timeouts.requestTimeoutMs },
      (code) => refusals.add(1, { code }),
    ),
    // The runtime answers requests that arrive while closing itself, in the common error shape.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: options.trustProxy ?? false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = headersTimeoutMs;
  app.server.maxConnections = options.maxConnections ?? DEFAULT_HTTP_LIMITS.maxConnections;

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, {
        statusCode: 503,
        code: 'SHUTTING_DOWN',
        message: 'server is shutting down, retry on another instance',
        expose: true,
      });
    }
    return undefined;
  });

  app.setErrorHandler(async (error, request, reply) => {
    const mapped = toErrorReply(error, bodyLimit);
    if (mapped.expose && mapped.statusCode < 500) {
      request.log.info(
        { code: mapped.code, statusCode: mapped.statusCode, reason: mapped.message },
        'request rejected',
      );
    } else {
      request.log.error({ err: error }, 'request failed');
    }
    return sendError(reply, mapped);
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(reply, {
      statusCode: 404,
      code: 'NOT_FOUND',
      message: `no route for ${request.method} ${request.url.split('?')[0]}`,
      expose: true,
    }),
  );

  registerRequestMetrics(app, options.metrics.meter());
  registerRuntimeRoutes(app, options.readiness, options.metrics);
  return app;
}

interface ErrorSink {
  code(statusCode: number): ErrorSink;
  send(payload: unknown): unknown;
}

function sendError(reply: ErrorSink, error: ErrorReply): unknown {
  const body = {
    code: error.code,
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
  };
  return reply.code(error.statusCode).send({ error: body });
}
