import { type Bus, type CommandDef, commandFailure } from '@immune/bus';
import { HttpError } from '@immune/runtime';
import type { Static, TSchema } from 'typebox';
import type { Operator } from '../auth/operators.js';

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
      const failure = commandFailure(error, command);
      if (failure !== undefined) {
        throw new HttpError(failure.status, failure.code.toUpperCase(), failure.message);
      }
      throw error;
    }
  }
}
