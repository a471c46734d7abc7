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
}): Promise<OperatorApi> {
  const { url, prefix, timeoutMs } = options;
  let bus: Bus;
  try {
    bus = await connectNatsBus({ url, prefix, name: 'immune-cli' });
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
      if (error instanceof BusCommandError) throw new CliFailure(`${error.code}: ${error.message}`);
      throw error;
    }
  };
  const opts = { timeoutMs };
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
