import { type TInteger, Type } from 'typebox';

/**
 * Reusable pieces of a service's env schema. A service spreads the ones it needs into its own
 * `Type.Object({...})`, so every service spells, defaults and validates the shared variables the same way.
 * The bus and database settings are fragments of the packages that use them: `BusEnv` in `@immune/bus`,
 * `StoreEnv` in `@immune/store`.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;

export const LogEnv = {
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info', description: 'pino level' }),
  /** `auto`: pretty on an interactive terminal, JSON otherwise (containers, CI, pipes). */
  LOG_FORMAT: Type.Enum(LOG_FORMATS, { default: 'auto', description: 'json | pretty | auto' }),
};

export const TelemetryEnv = {
  /** Traces are exported over OTLP/HTTP only when this is set, e.g. `http://otel-collector:4318`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ format: 'uri' })),
  /** Overrides the service's own name in telemetry resources. */
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ minLength: 1 })),
};

/** The listening port of one service, e.g. `portEnv('GATEWAY_PORT', 4000)`. 0 picks a free port (tests). */
export function portEnv<N extends string>(name: N, defaultPort: number): Record<N, TInteger> {
  return {
    [name]: Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort, description: 'TCP port' }),
  } as Record<N, TInteger>;
}

export const HttpEnv = {
  /** Interface to bind; `0.0.0.0` in containers, `127.0.0.1` to keep a service local. */
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /** Largest accepted request body. LLM requests with long contexts or images are big, hence 10 MiB. */
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024, default: 10 * 1024 * 1024 }),
  /** Largest request line plus headers; beyond it the client gets 431. 16 KiB is Node's own default. */
  HTTP_MAX_HEADER_BYTES: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: 16 * 1024 }),
  /** Open client connections at once; further connections are closed as they arrive, unanswered. */
  HTTP_MAX_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  /** Time to receive the request headers, counted from the connection (slowloris, idle sockets), ms. */
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
  /** Time to receive the whole request, headers and body; the response (a stream) is not covered, ms. */
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 120_000 }),
  /** Idle time between two requests on a kept-alive connection, ms (above load balancers' 60 s). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 72_000 }),
};

export const ShutdownEnv = {
  /** Hard limit for the whole graceful shutdown; past it the process exits 1. Below Kubernetes' 30 s grace. */
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 25_000 }),
  /**
   * Time between readiness turning 503 and the listener closing, so load balancers stop routing to this
   * instance before connections are refused. 0 locally; about 5000 behind a Kubernetes Service.
   */
  SHUTDOWN_DRAIN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 120_000, default: 0 }),
};

/** Everything an HTTP-serving Immune service reads, apart from its own variables. */
export function serviceEnv<N extends string>(portVariable: N, defaultPort: number) {
  return {
    ...LogEnv,
    ...TelemetryEnv,
    ...HttpEnv,
    ...ShutdownEnv,
    ...portEnv(portVariable, defaultPort),
  };
}
