// @immune/runtime: how every Immune service reads config, logs, reports telemetry, serves HTTP and shuts down.
// A service's telemetry bootstrap imports `@immune/runtime/telemetry` instead, which does not load fastify.
export * from './auth/index.js';
export * from './config/index.js';
export * from './http/index.js';
export * from './lifecycle/index.js';
export * from './logging/index.js';
export * from './telemetry/index.js';
