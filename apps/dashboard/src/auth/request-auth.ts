import { HttpError } from '@immune/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Operator, OperatorDirectory } from './operators.js';
import { SESSION_COOKIE, type SessionClaims, type SessionCodec } from './session-cookie.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who this request acts for; set by `authenticate` on every /api route behind it. */
    operator?: Operator;
    /** How: a session cookie (CSRF rules apply) or a bearer token (scripts, the `immune` CLI). */
    authVia?: 'cookie' | 'bearer';
    session?: SessionClaims;
  }
}

export interface AuthDeps {
  operators: OperatorDirectory;
  sessions: SessionCodec;
  /** Origins besides the dashboard's own that may send state changes with the cookie. */
  allowedOrigins: readonly string[];
  now: () => number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The bearer token of an `Authorization` header, if it carries one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !/^bearer\s/i.test(header)) return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

/**
 * The onRequest guard of every API route but login: a bearer token, or a valid session cookie whose token is
 * still configured. State changes made with the cookie must also pass `checkCsrf`. 401 otherwise.
 */
export function authenticate(deps: AuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerToken(request);
    if (bearer !== undefined) {
      const operator = deps.operators.byToken(bearer);
      if (operator === undefined) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw new HttpError(401, 'UNAUTHORIZED', 'the bearer token is not a configured operator token');
      }
      request.operator = operator;
      request.authVia = 'bearer';
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    const claims = cookie === undefined ? undefined : deps.sessions.verify(cookie, deps.now());
    // The session's token must still be configured, for the same name: rotating a token ends its sessions.
    const token = claims === undefined ? undefined : deps.sessions.tokenOf(claims);
    const found = token === undefined ? undefined : deps.operators.byToken(token);
    const operator = found !== undefined && found.name === claims?.sub ? found : undefined;
    if (claims === undefined || operator === undefined) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'log in first (POST /api/session), or send "Authorization: Bearer <token>"',
      );
    }
    request.operator = operator;
    request.authVia = 'cookie';
    request.session = claims;
    if (!SAFE_METHODS.has(request.method)) checkCsrf(request, deps.allowedOrigins);
  };
}

/**
 * Cross-site request forgery: a state change with ambient credentials (the cookie) must be JSON (a form or a
 * "simple" cross-site request cannot send application/json without a CORS preflight, which this server never
 * grants) and come from the dashboard's own origin (browsers always send Origin on such requests).
 */
export function checkCsrf(request: FastifyRequest, allowedOrigins: readonly string[]): void {
  const type = request.headers['content-type'];
  if (request.method !== 'DELETE' && (typeof type !== 'string' || !/^application\/json\b/i.test(type))) {
    throw new HttpError(415, 'JSON_REQUIRED', 'state changes must be sent as application/json');
  }
  const origin = request.headers.origin;
  if (typeof origin !== 'string') {
    throw new HttpError(403, 'CSRF_REFUSED', 'the Origin header is missing from a state-changing request');
  }
  if (origin !== ownOrigin(request) && !allowedOrigins.includes(origin)) {
    throw new HttpError(403, 'CSRF_REFUSED', `requests from ${origin} may not change anything here`);
  }
}

/** scheme://host[:port] the browser used to reach us (X-Forwarded-* count only with trustProxy). */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** preHandler of every route that decides something: viewers may look, not act. */
export async function requireOperator(request: FastifyRequest): Promise<void> {
  if (request.operator?.role !== 'operator') {
    throw new HttpError(403, 'FORBIDDEN', 'viewers cannot change anything: this needs the operator role');
  }
}
