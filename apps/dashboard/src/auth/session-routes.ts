import rateLimit from '@fastify/rate-limit';
import { ErrorResponse, HttpError, type HttpPlugin } from '@immune/runtime';
import Type from 'typebox';
import { OperatorView } from './operator-view.js';
import { type AuthDeps, authenticate, checkCsrf } from './request-auth.js';
import { SESSION_COOKIE } from './session-cookie.js';

export { OperatorView };

const SessionReply = Type.Object({ operator: OperatorView }, { additionalProperties: false });
const LoginBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export interface SessionRouteOptions extends AuthDeps {
  loginsPerMinute: number;
  cookieSecure: 'auto' | 'always' | 'never';
}

/**
 * `POST /api/session` exchanges a token for a session cookie (signed, HttpOnly, SameSite=Strict), rate-limited
 * per client address; `GET` says who is logged in; `DELETE` logs out.
 */
export const sessionRoutes: HttpPlugin<SessionRouteOptions> = async (app, options) => {
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new HttpError(
        429,
        'TOO_MANY_LOGINS',
        `too many login attempts from this address; retry in ${Math.ceil(context.ttl / 1000)} s`,
      ),
  });

  app.post(
    '/api/session',
    {
      config: { rateLimit: { max: options.loginsPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['session'],
        summary: 'Log in: exchange a token for a session cookie',
        body: LoginBody,
        response: { 200: SessionReply, '4xx': ErrorResponse },
      },
      // Login CSRF: a foreign page must not log a browser in under someone else's name.
      preValidation: async (request) => checkCsrf(request, options.allowedOrigins),
    },
    async (request, reply) => {
      const operator = options.operators.byToken(request.body.token);
      if (operator === undefined) {
        request.log.info({ event: 'login-refused' }, 'dashboard login refused');
        throw new HttpError(401, 'INVALID_TOKEN', 'this token is not a configured operator token');
      }
      const { value, claims } = options.sessions.issue(operator, options.now());
      const secure =
        options.cookieSecure === 'always' ||
        (options.cookieSecure === 'auto' && request.protocol === 'https');
      reply.setCookie(SESSION_COOKIE, value, {
        httpOnly: true,
        sameSite: 'strict',
        secure,
        path: '/',
        expires: new Date(claims.exp),
      });
      request.log.info({ event: 'login', operator: operator.name, role: operator.role }, 'dashboard login');
      return { operator: { name: operator.name, role: operator.role, expires_at: claims.exp } };
    },
  );

  await app.register(async (secured) => {
    secured.addHook('onRequest', authenticate(options));
    secured.get(
      '/api/session',
      { schema: { tags: ['session'], summary: 'Who is logged in', response: { 200: SessionReply } } },
      async (request) => ({
        operator: {
          name: request.operator!.name,
          role: request.operator!.role,
          expires_at: request.session?.exp ?? null,
        },
      }),
    );
    secured.delete(
      '/api/session',
      { schema: { tags: ['session'], summary: 'Log out', response: { 204: Type.Null() } } },
      async (_request, reply) => {
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return reply.code(204).send();
      },
    );
  });
};
