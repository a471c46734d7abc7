import {
  type Bus,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  connectNatsBus,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
  natsSecurity,
} from '@immune/bus';
import { CliFailure } from '../errors.js';
import type { OperatorApi } from './api.js';

const DECISIONS = { approve: HEALER_APPROVE, reject: HEALER_REJECT, heal: HEALER_HEAL } as const;

/**
 * The healer's `immune.cmd.healer.*` commands straight over NATS. Bus errors become messages an operator can
 * act on: nobody serving the command means the healer is not running under this prefix.
 */
export async function connectNatsApi(options: {
  url: string;
  prefix: string;
  timeoutMs: number;
  /** Sent beside every request (the `Immune-Operator-Token` header); the healer checks it. */
  token: string;
}): Promise<OperatorApi> {
  const { url, prefix, timeoutMs } = options;
  let bus: Bus;
  try {
    // The CLI authenticates like a service, from the same NATS_* variables (docs/bus.md); in the shipped
    // permissions it is the `operator` user.
    const env = process.env;
    const security = natsSecurity({
      NATS_URL: url,
      ...(env.NATS_USER ? { NATS_USER: env.NATS_USER } : {}),
      ...(env.NATS_PASSWORD ? { NATS_PASSWORD: env.NATS_PASSWORD } : {}),
      ...(env.NATS_TOKEN ? { NATS_TOKEN: env.NATS_TOKEN } : {}),
      ...(env.NATS_NKEY_SEED_FILE ? { NATS_NKEY_SEED_FILE: env.NATS_NKEY_SEED_FILE } : {}),
      ...(env.NATS_CREDS_FILE ? { NATS_CREDS_FILE: env.NATS_CREDS_FILE } : {}),
      ...(env.NATS_TLS_CA_FILE ? { NATS_TLS_CA_FILE: env.NATS_TLS_CA_FILE } : {}),
      ...(env.NATS_TLS_CERT_FILE ? { NATS_TLS_CERT_FILE: env.NATS_TLS_CERT_FILE } : {}),
      ...(env.NATS_TLS_KEY_FILE ? { NATS_TLS_KEY_FILE: env.NATS_TLS_KEY_FILE } : {}),
    });
    bus = await connectNatsBus({ url, prefix, name: 'immune-cli', security });
  } catch (error) {
    throw new CliFailure(`cannot connect to NATS at ${url}: ${(error as Error).message}`);
  }
  const call = async <T>(send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      if (error instanceof BusNoRespondersError)
        throw new CliFailure(`no healer answers on prefix "${prefix}" (is it running?)`);
      if (error instanceof BusTimeoutError) throw new CliFailure('the healer did not answer in time');
      if (error instanceof BusCommandError) {
        const hint = error.code === 'unauthenticated' ? ' (check --token / $IMMUNE_OPERATOR_TOKEN)' : '';
        throw new CliFailure(`${error.code}: ${error.message}${hint}`);
      }
      throw error;
    }
  };
  const opts = { timeoutMs, operatorToken: options.token };
  return {
    target: `NATS ${url} (prefix ${prefix})`,
    agents: () => call(() => bus.request(HEALER_AGENTS, {}, opts)),
    approvals: (request) => call(() => bus.request(HEALER_APPROVALS, request, opts)),
    decide: (decision, request) => call(() => bus.request(DECISIONS[decision], request, opts)),
    feedback: (request) => call(() => bus.request(HEALER_FEEDBACK, request, opts)),
    quarantine: (request) => call(() => bus.request(HEALER_QUARANTINE, request, opts)),
    release: (request) => call(() => bus.request(HEALER_RELEASE, request, opts)),
    close: () => bus.drain().catch(() => undefined),
  };
}
