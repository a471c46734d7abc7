import {
  BusClosedError,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  BusUnavailableError,
} from './errors.js';

/** A failed `immune.cmd.*` request as an HTTP API relays it: a status, a lower-case code, a message. */
export interface CommandFailure {
  status: number;
  code: string;
  message: string;
}

/** The executing service's own refusal codes keep their meaning over HTTP. */
const COMMAND_STATUS: Readonly<Record<string, number>> = {
  not_found: 404,
  invalid_request: 400,
  illegal_transition: 409,
  transition_refused: 409,
  // The service that executes the command checked the forwarded operator token and refused it.
  unauthenticated: 401,
  forbidden: 403,
};

/**
 * What an HTTP front (the dashboard, the gateway's management API) answers when a command it relayed
 * failed: the executor's refusal as it is, a service that is not running or a bus that is down as 503 with
 * its name, never a 500. Undefined for an error that is not the bus's (a bug, left to the caller).
 */
export function commandFailure(
  error: unknown,
  command: { service: string; verb: string },
): CommandFailure | undefined {
  const name = `${command.service}.${command.verb}`;
  if (error instanceof BusCommandError) {
    return { status: COMMAND_STATUS[error.code] ?? 502, code: error.code, message: error.message };
  }
  if (error instanceof BusNoRespondersError || error instanceof BusTimeoutError) {
    return {
      status: 503,
      code: 'service_unavailable',
      message: `the ${command.service} did not answer ${name}; retry shortly`,
    };
  }
  if (error instanceof BusUnavailableError || error instanceof BusClosedError) {
    return {
      status: 503,
      code: 'bus_unavailable',
      message: 'the bus is unreachable right now; retry shortly',
    };
  }
  return undefined;
}
