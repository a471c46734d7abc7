import type { HttpPlugin } from '@immune/runtime';
import type { Gateway } from './gateway.js';
import { managementRoutes } from './management/routes.js';
import { ROOT_ANTHROPIC_PREFIXES } from './proxy/endpoints.js';

export interface GatewayAppOptions {
  gateway: Gateway;
  bodyLimitBytes: number;
}

/**
 * The gateway as a fastify plugin: the LLM proxy under /v1 and the management API under /api/gateway.
 * The proxy scope reads bodies as raw bytes, so an unchanged request goes upstream byte for byte and
 * malformed JSON reaches the provider (whose own error the client then sees).
 */
export const gatewayApp: HttpPlugin<GatewayAppOptions> = async (app, options) => {
  const { gateway } = options;
  await app.register(async (proxyScope) => {
    proxyScope.removeAllContentTypeParsers();
    proxyScope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
      (_request, body, done) => done(null, body),
    );
    proxyScope.all('/v1', gateway.proxy);
    proxyScope.all('/v1/*', gateway.proxy);
    // The Anthropic API at the root too, for clients whose base URL already carries /v1 (docs/gateway.md).
    for (const prefix of ROOT_ANTHROPIC_PREFIXES) {
      proxyScope.all(prefix, gateway.proxy);
      proxyScope.all(`${prefix}/*`, gateway.proxy);
    }
  });
  await app.register(managementRoutes, { prefix: '/api/gateway', gateway });
};
