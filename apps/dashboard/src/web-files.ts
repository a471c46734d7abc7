import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { HttpPlugin } from '@immune/runtime';

/** Where `vite build` puts the web app: `dist/web`, seen from `src/` and from `dist/` alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../dist/web', import.meta.url));

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The built web app: hashed assets with long caching, and `index.html` (never cached) for every other path
 * outside /api, so deep links such as /agents/research-1 open the app at that page.
 */
export const webFiles: HttpPlugin<{ webDir: string }> = async (app, { webDir }) => {
  app.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/api/'))
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
  });
  const built = existsSync(`${webDir}/index.html`);
  if (built) {
    await app.register(fastifyStatic, {
      root: webDir,
      wildcard: false,
      index: false,
      setHeaders: (response, path) => {
        response.header(
          'cache-control',
          path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  }
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    if (request.url.startsWith('/api/') || request.url === '/api') return reply.callNotFound();
    if (!built) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>Immune dashboard</title><p>The web app is not built: run <code>pnpm --filter @immune/dashboard build</code>. The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>',
        );
    }
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html');
  });
};
