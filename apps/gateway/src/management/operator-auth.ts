import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The operator token guard for /api/gateway/*. Without a configured token the API is closed (503), never
 * open; a wrong or missing token is 401. Compared in constant time.
 */
export function operatorAuth(token: string | undefined) {
  const expected = token === undefined ? undefined : Buffer.from(token);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (expected === undefined) {
      await reply.code(503).send({
        error: {
          code: 'management_disabled',
          message: 'set GATEWAY_OPERATOR_TOKEN to enable the management API',
        },
      });
      return;
    }
    const header = request.headers.authorization;
    const given = header?.toLowerCase().startsWith('bearer ')
      ? header.slice(7).trim()
      : (request.headers['x-immune-operator-token'] as string | undefined);
    const candidate = Buffer.from(given ?? '');
    if (candidate.length !== expected.length || !timingSafeEqual(candidate, expected)) {
      await reply
        .code(401)
        .send({ error: { code: 'unauthorized', message: 'a valid operator token is required' } });
    }
  };
}
