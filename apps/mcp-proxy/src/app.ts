import type { HttpPlugin } from '@immune/runtime';
import { errorObject, STANDARD_ERROR } from './jsonrpc.js';
import type { McpProxy } from './mcp-proxy.js';

export interface McpProxyAppOptions {
  proxy: McpProxy;
  bodyLimitBytes: number;
}

/**
 * The MCP proxy as a fastify plugin: every path and method goes to the MCP server mounted there (the runtime's
 * own /healthz, /readyz and /metrics excepted). Bodies are read as raw bytes, so what goes upstream is exactly
 * what the client sent, malformed JSON included (the server's own error then answers it).
 */
export const mcpProxyApp: HttpPlugin<McpProxyAppOptions> = async (app, options) => {
  const { proxy } = options;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
      (_request, body, done) => done(null, body),
    );
    scope.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, _request, reply) => {
      const tooLarge = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      const status = tooLarge ? 413 : (error.statusCode ?? 500);
      const message = tooLarge
        ? `request body exceeds ${options.bodyLimitBytes} bytes (BODY_LIMIT_BYTES)`
        : status < 500
          ? error.message
          : 'internal error in the MCP proxy';
      return reply
        .code(status)
        .header('content-type', 'application/json')
        .send(
          JSON.stringify(errorObject(null, status < 500 ? STANDARD_ERROR.invalidRequest : -32603, message)),
        );
    });
    scope.all('/', proxy.handler);
    scope.all('/*', proxy.handler);
  });
};
