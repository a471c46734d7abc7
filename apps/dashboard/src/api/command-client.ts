import {
  type Bus,
  BusClosedError,
  BusCommandError,
  BusNoRespondersError,
  BusTimeoutError,
  BusUnavailableError,
  type CommandDef,
} from '@immune/bus';
import { HttpError } from '@immune/runtime';
import type { Static, TSchema } from 'typebox';
import type { Operator } from '../auth/operators.js';

/** How a command failure reaches the browser: the healer's own codes keep their meaning. */
const COMMAND_STATUS: Record<string, number> = {
  not_found: 404,
  invalid_request: 400,
  illegal_transition: 409,
  transition_refused: 409,
  // The service that executes the command checked the forwarded token and refused it.
  unauthenticated: 401,
  forbidden: 403,
};

/**
 * Sends `immune.cmd.*` commands for the dashboard's routes, each with the requesting operator's token, and turns every bus failure into an HTTP error: a
 * service that is not running is 503 with its name, never a 500.
 */
export class CommandClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  async send<Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    request: Static<Req>,
    operator: Operator,
  ): Promise<Static<Rep>> {
    try {
      return await this.bus.request(command, request, {
        timeoutMs: this.timeoutMs,
        operatorToken: operator.token,
      });
    } catch (error) {
      const name = `${command.service}.${command.verb}`;
      if (error instanceof BusCommandError) {
        const status = COMMAND_STATUS[error.code] ?? 502;
        throw new HttpError(status, error.code.toUpperCase(), error.message);
      }
      if (error instanceof BusNoRespondersError || error instanceof BusTimeoutError) {
        throw new HttpError(
          503,
          'SERVICE_UNAVAILABLE',
          `the ${command.service} did not answer ${name}; retry shortly`,
        );
      }
      if (error instanceof BusUnavailableError || error instanceof BusClosedError) {
        throw new HttpError(503, 'BUS_UNAVAILABLE', 'the bus is unreachable right now; retry shortly');
      }
      throw error;
    }
  }
}
