import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Bus } from '@immune/bus';
import type { HttpPlugin } from '@immune/runtime';
import type { Repositories } from '@immune/store';
import { actionRoutes } from './api/action-routes.js';
import { CommandClient } from './api/command-client.js';
import { readRoutes } from './api/read-routes.js';
import type { OperatorDirectory } from './auth/operators.js';
import { authenticate } from './auth/request-auth.js';
import type { SessionCodec } from './auth/session-cookie.js';
import { sessionRoutes } from './auth/session-routes.js';
import type { EventStreamOptions } from './live/event-stream.js';
import type { LiveHub } from './live/live-hub.js';
import { streamRoute } from './live/stream-route.js';
import { webFiles } from './web-files.js';

export interface DashboardAppOptions {
  bus: Bus;
  repos: Repositories;
  hub: LiveHub;
  operators: OperatorDirectory;
  sessions: SessionCodec;
  allowedOrigins: readonly string[];
  loginsPerMinute: number;
  cookieSecure: 'auto' | 'always' | 'never';
  commandTimeoutMs: number;
  stream: Omit<EventStreamOptions, 'endsAt' | 'now'>;
  webDir: string;
  draining: AbortSignal;
  now?: () => number;
}

/**
 * The dashboard's HTTP side: its JSON API under /api (documented at /api/openapi.json), the live stream, and
 * the web app's static files. Every /api route but login needs a session cookie or a bearer token.
 */
export const dashboardApp: HttpPlugin<DashboardAppOptions> = async (app, options) => {
  const now = options.now ?? Date.now;
  // Strict bodies: an unknown field (`operator`, say) is refused by name instead of silently dropped, and
  // nothing is coerced (fastify's default Ajv turns 5 into "5").
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  const auth = {
    operators: options.operators,
    sessions: options.sessions,
    allowedOrigins: options.allowedOrigins,
    now,
  };
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Immune dashboard API',
        version: '1',
        description:
          'What the dashboard shows and does. Log in with POST /api/session (cookie), or send "Authorization: Bearer <token>". Cookie requests that change anything must be JSON with a matching Origin.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'immune_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(cookie);
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(sessionRoutes, {
    ...auth,
    loginsPerMinute: options.loginsPerMinute,
    cookieSecure: options.cookieSecure,
  });
  const commands = new CommandClient(options.bus, options.commandTimeoutMs);
  await app.register(async (api) => {
    api.addHook('onRequest', authenticate(auth));
    await api.register(readRoutes, { commands, repos: options.repos, hub: options.hub, now });
    await api.register(actionRoutes, { commands });
    await api.register(streamRoute, {
      hub: options.hub,
      stream: { ...options.stream, now },
      draining: options.draining,
    });
  });
  await app.register(webFiles, { webDir: options.webDir });
};
