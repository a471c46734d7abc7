export { type ClientErrorReply, clientErrorReply } from './client-error.js';
export { closeHttpServer } from './close-http-server.js';
export { createHttpServer, type HttpServerOptions, type MetricsRegistry } from './create-http-server.js';
export { type ErrorReply, type FieldIssue, toErrorReply } from './error-response.js';
export { ErrorResponse, HttpError } from './http-error.js';
export { DEFAULT_HTTP_LIMITS, type HttpLimits, type HttpLimitsEnv, httpLimits } from './server-limits.js';
export { DEFAULT_SERVER_TIMEOUTS, type ServerTimeouts } from './server-timeouts.js';
export type { HttpPlugin, HttpServer } from './types.js';
