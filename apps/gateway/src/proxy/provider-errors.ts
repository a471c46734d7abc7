import type { ApiFamily } from '../routing/providers.js';

/**
 * Errors the gateway itself answers with, shaped like the provider's own so that SDKs raise their usual
 * error classes: OpenAI `{ error: { message, type, param, code } }`, Anthropic `{ type: 'error', error }`.
 * `immune_*` types make it obvious the gateway, not the provider, answered.
 */
export function providerError(family: ApiFamily, status: number, code: string, message: string): string {
  if (family === 'anthropic') {
    const type =
      status === 429
        ? 'rate_limit_error'
        : status === 403
          ? 'permission_error'
          : status >= 500
            ? 'api_error'
            : 'invalid_request_error';
    return JSON.stringify({ type: 'error', error: { type, message: `${message} [${code}]` } });
  }
  const type =
    status === 429
      ? 'rate_limit_error'
      : status === 403
        ? 'permission_error'
        : status >= 500
          ? 'server_error'
          : 'invalid_request_error';
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/** The same as one SSE event, to end an open stream cleanly (e.g. when its agent is quarantined). */
export function providerStreamError(
  family: ApiFamily,
  status: number,
  code: string,
  message: string,
): string {
  const body = providerError(family, status, code, message);
  return family === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`;
}
