import { OPERATOR_TOKEN_HEADER } from '@immune/bus';
import {
  authorizeOperator,
  OperatorAuthError,
  type OperatorIdentity,
  type OperatorTokens,
} from '@immune/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator a management request acts for, and the token it proved that with (to relay commands). */
    gatewayOperator?: OperatorIdentity & { token: string };
  }
}

const READS = new Set(['GET', 'HEAD']);

/** The token of `Authorization: Bearer …`, else of the `Immune-Operator-Token` header the CLI sends. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^bearer\s/i.test(header)) return header.slice(7).trim();
  const own = request.headers[OPERATOR_TOKEN_HEADER.toLowerCase()];
  return typeof own === 'string' ? own.trim() : undefined;
}

/**
 * The guard of /api/gateway/*: the fleet's operator tokens (IMMUNE_OPERATOR_TOKENS, hashes only, as every
 * service checks them). Reads need a viewer, changes an operator. With no token configured the API is closed
 * (503), never open; a missing or unknown token is 401, a viewer's change 403.
 */
export function operatorAuth(tokens: OperatorTokens) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (tokens.size === 0) {
      await reply.code(503).send({
        error: {
          code: 'management_disabled',
          message: 'set IMMUNE_OPERATOR_TOKENS (or IMMUNE_OPERATOR_TOKENS_FILE) to enable the management API',
        },
      });
      return;
    }
    const token = presentedToken(request);
    try {
      const needs = READS.has(request.method) ? 'viewer' : 'operator';
      const identity = authorizeOperator(tokens, token, needs, 'the gateway management API');
      request.gatewayOperator = { ...identity, token: token ?? '' };
    } catch (error) {
      if (!(error instanceof OperatorAuthError)) throw error;
      await reply
        .code(error.code === 'forbidden' ? 403 : 401)
        .send({ error: { code: error.code, message: error.message } });
    }
  };
}
