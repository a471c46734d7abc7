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
  | { kind: 'nats'; url: string; prefix: string; token: string | undefined };

/**
 * Which way the CLI reaches the healer. Decisions as data: an explicit flag wins (`--url` the dashboard,
 * `--nats` the bus), then `$NATS_URL` (a deployment with a shared bus), and otherwise the dashboard at
 * `$IMMUNE_URL` or localhost:8090, the only way into a single-process `pnpm start` with its embedded bus.
 * Either way the operator token is `--token`, else `$IMMUNE_OPERATOR_TOKEN` (`$IMMUNE_TOKEN`, its older name,
 * last).
 */
export function chooseTransport(values: ConnectionValues, env: NodeJS.ProcessEnv): Transport {
  if (values.url !== undefined && values.nats !== undefined)
    throw new UsageError('give --url (the dashboard) or --nats (the bus), not both');
  const nats = values.nats ?? (values.url === undefined ? env.NATS_URL : undefined);
  const token = values.token ?? (env.IMMUNE_OPERATOR_TOKEN || undefined) ?? (env.IMMUNE_TOKEN || undefined);
  if (nats !== undefined && nats !== '')
    return { kind: 'nats', url: nats, prefix: values.prefix ?? env.IMMUNE_SUBJECT_PREFIX ?? 'immune', token };
  const url = values.url ?? env.IMMUNE_URL ?? DEFAULT_DASHBOARD_URL;
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  return { kind: 'http', url, token };
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
  if (transport.token === undefined || transport.token === '')
    throw new UsageError(
      `operator commands need an operator token: --token or $IMMUNE_OPERATOR_TOKEN (\`immune token create\` mints one; \`pnpm start\` prints one)`,
    );
  if (transport.kind === 'http') {
    api = httpApi({ url: transport.url, token: transport.token, timeoutMs });
  } else {
    api = await connectNatsApi({
      url: transport.url,
      prefix: transport.prefix,
      timeoutMs,
      token: transport.token,
    });
  }
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}
