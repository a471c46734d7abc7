import type { FastifyPluginAsync } from 'fastify';
import type { Gateway } from '../gateway.js';

/** Placeholder filled in below; kept separate so the proxy stays small. */
export const managementRoutes: FastifyPluginAsync<{ gateway: Gateway }> = async () => {};
