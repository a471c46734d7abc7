import type { ApiFamily } from '../routing/providers.js';

/**
 * Errors the gateway itself answers with, shaped like the provider's own so that SDKs raise their usual
 * error classes: OpenAI `{ error: { message, type, param, code } }`, Anthropic `{ type: 'error', error }`.
 * `immune_*` types make it obvious the gateway, not the provider, answered.
 */
function errorType(family: ApiFamily, status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 403) return 'permission_error';
  if (status >= 500) return family === 'anthropic' ? 'api_error' : 'server_error';
  return 'invalid_request_error';
}

export function providerError(family: ApiFamily, status: number, code: string, message: string): string {
  const type = errorType(family, status);
  if (family === 'anthropic')
    return JSON.stringify({ type: 'error', error: { type, message: `${message} [${code}]` } });
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
