import { CliFailure } from '../errors.js';
import type { OperatorApi } from './api.js';

/**
 * The dashboard's JSON API with a bearer token: the way in when the services share an embedded bus (single
 * process `pnpm start`) or NATS is not reachable from the operator's machine. The dashboard checks the
 * operator token and forwards it with each command, and the healer records the token's name.
 */
export function httpApi(options: { url: string; token: string; timeoutMs: number }): OperatorApi {
  const base = options.url.replace(/\/+$/, '');
  const request = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      const cause = (error as Error).name === 'TimeoutError' ? 'no answer in time' : causeOf(error);
      throw new CliFailure(`cannot reach the dashboard at ${base}: ${cause} (is it running? --url)`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliFailure(
        `${base}${path} answered ${response.status} with non-JSON (is --url the dashboard?)`,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const hint = response.status === 401 ? ' (check --token / $IMMUNE_OPERATOR_TOKEN)' : '';
      throw new CliFailure(
        `${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? response.statusText}${hint}`,
      );
    }
    return parsed as T;
  };
  const agentPath = (id: string, verb: string) => `/api/agents/${encodeURIComponent(id)}/${verb}`;
  return {
    target: `dashboard ${base}`,
    agents: () => request('GET', '/api/agents'),
    approvals: ({ status, agent_id }) =>
      request(
        'GET',
        `/api/approvals?${new URLSearchParams({ status, ...(agent_id === undefined ? {} : { agent_id }) })}`,
      ),
    decide: (decision, target) => request('POST', `/api/decisions/${decision}`, target),
    feedback: (body) => request('POST', '/api/feedback', body),
    quarantine: ({ agent_id, reason }) =>
      request('POST', agentPath(agent_id, 'quarantine'), reason === undefined ? {} : { reason }),
    release: ({ agent_id, reason }) =>
      request('POST', agentPath(agent_id, 'release'), reason === undefined ? {} : { reason }),
    close: async () => undefined,
  };
}

/** fetch hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
