import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpPlugin } from '@immune/runtime';
import type { Gateway } from './gateway.js';
import type { FleetView } from './management/fleet-view.js';
import { managementRoutes } from './management/routes.js';

export interface GatewayAppOptions {
  gateway: Gateway;
  /** The management API's fleet view; without a database only the per-replica view answers. */
  fleet: FleetView | undefined;
  bodyLimitBytes: number;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The gateway as a fastify plugin: the management API under /api/gateway as routes, and the LLM proxy (/v1,
 * the Anthropic root paths, Ollama's /api) in front of fastify on the same server. The proxy answers before
 * fastify routes a request: fastify's per-request work (routing, hooks, a child logger, reply objects) was most
 * of the gateway's CPU per proxied call (docs/gateway-benchmark.md). Once the server is closing, every request
 * goes to fastify, which answers 503 as on every other service.
 */
export const gatewayApp: HttpPlugin<GatewayAppOptions> = async (app, options) => {
  const { gateway } = options;
  const server = app.server;
  const [fastifyListener] = server.listeners('request') as RequestListener[];
  if (!fastifyListener) throw new Error('the gateway app must be registered on a server fastify created');
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  server.removeListener('request', fastifyListener);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (closing || !gateway.proxy(req, res)) fastifyListener(req, res);
  });
  await app.register(managementRoutes, { prefix: '/api/gateway', gateway, fleet: options.fleet });
};
