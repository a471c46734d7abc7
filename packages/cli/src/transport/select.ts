import { UsageError } from '../errors.js';
import type { OperatorApi } from './api.js';
import { httpApi } from './http.js';
import { connectNatsApi } from './nats.js';

export const DEFAULT_DASHBOARD_URL = 'http://localhost:8090';

export interface ConnectionValues {
  url?: string | undefined;
  token?: string | undefined;
  nats?: string | undefined;
  prefix?: string | undefined;
  timeout?: string | undefined;
}

export type Transport =
  | { kind: 'http'; url: string; token: string | undefined }
  | { kind: 'nats'; url: string; prefix: string };

/**
 * Which way the CLI reaches the healer. Decisions as data: an explicit flag wins (`--url` the dashboard,
 * `--nats` the bus), then `$NATS_URL` (a deployment with a shared bus), and otherwise the dashboard at
 * `$IMMUNE_URL` or localhost:8090, the only way into a single-process `pnpm start` with its embedded bus.
 */
export function chooseTransport(values: ConnectionValues, env: NodeJS.ProcessEnv): Transport {
  if (values.url !== undefined && values.nats !== undefined)
    throw new UsageError('give --url (the dashboard) or --nats (the bus), not both');
  const nats = values.nats ?? (values.url === undefined ? env.NATS_URL : undefined);
  if (nats !== undefined && nats !== '')
    return { kind: 'nats', url: nats, prefix: values.prefix ?? env.IMMUNE_SUBJECT_PREFIX ?? 'immune' };
  const url = values.url ?? env.IMMUNE_URL ?? DEFAULT_DASHBOARD_URL;
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  return { kind: 'http', url, token: values.token ?? env.IMMUNE_TOKEN };
}

export function timeoutOf(values: ConnectionValues): number {
  if (values.timeout === undefined) return 5_000;
  const ms = Number(values.timeout);
  if (!Number.isInteger(ms) || ms <= 0)
    throw new UsageError(`--timeout must be a positive integer, got "${values.timeout}"`);
  return ms;
}

/** Opens the chosen transport, runs the requests, closes it. */
export async function withApi<T>(values: ConnectionValues, fn: (api: OperatorApi) => Promise<T>): Promise<T> {
  const transport = chooseTransport(values, process.env);
  const timeoutMs = timeoutOf(values);
  let api: OperatorApi;
  if (transport.kind === 'http') {
    if (transport.token === undefined || transport.token === '')
      throw new UsageError(
        `the dashboard at ${transport.url} needs a token: --token or $IMMUNE_TOKEN (the dashboard prints one at start), or --nats for the bus`,
      );
    api = httpApi({ url: transport.url, token: transport.token, timeoutMs });
  } else {
    api = await connectNatsApi({ url: transport.url, prefix: transport.prefix, timeoutMs });
  }
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}
