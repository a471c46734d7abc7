import type { Static, TSchema } from 'typebox';
import type { CommandContext } from './bus.js';
import { BusCommandError, BusError, InvalidMessageError } from './errors.js';
import { type CommandDef, type CommandReply, formatIssues } from './messages.js';

type Decoded = { ok: true; value: unknown } | { ok: false; issues: string };

/** Validates a request, runs the handler, validates its answer; any failure becomes an error reply. */
export async function callHandler<Req extends TSchema, Rep extends TSchema>(
  command: CommandDef<Req, Rep>,
  decoded: Decoded,
  handler: (request: Static<Req>, context: CommandContext) => Promise<Static<Rep>>,
  context: CommandContext,
): Promise<CommandReply<Static<Rep>>> {
  if (!decoded.ok) return { ok: false, error: { code: 'invalid_request', message: decoded.issues } };
  if (!command.requestChecker.check(decoded.value)) {
    return {
      ok: false,
      error: { code: 'invalid_request', message: formatIssues(command.requestChecker.issues(decoded.value)) },
    };
  }
  try {
    const reply = await handler(decoded.value, context);
    if (!command.replyChecker.check(reply)) {
      return {
        ok: false,
        error: { code: 'invalid_reply', message: formatIssues(command.replyChecker.issues(reply)) },
      };
    }
    return { ok: true, data: reply };
  } catch (error) {
    const code =
      typeof (error as { code?: unknown }).code === 'string'
        ? (error as { code: string }).code
        : 'handler_failed';
    return { ok: false, error: { code, message: error instanceof Error ? error.message : String(error) } };
  }
}

export function encodeReply<T>(reply: CommandReply<T>): string {
  return JSON.stringify(reply);
}

/** Turns a wire reply back into the data, or throws the command's error. */
export function decodeReply<Req extends TSchema, Rep extends TSchema>(
  command: CommandDef<Req, Rep>,
  decoded: Decoded,
): Static<Rep> {
  if (!decoded.ok) throw new BusError(`bus: unreadable reply from ${command.service}.${command.verb}`);
  const reply = decoded.value as CommandReply<unknown>;
  if (reply && reply.ok === false) throw new BusCommandError(reply.error.code, reply.error.message);
  if (reply?.ok !== true || !command.replyChecker.check(reply.data)) {
    const issues = reply?.ok === true ? command.replyChecker.issues(reply.data) : [];
    throw new InvalidMessageError(`bus: malformed reply from ${command.service}.${command.verb}`, issues);
  }
  return reply.data;
}

/** Checks a request before it leaves, so a caller's mistake is reported to the caller, not to the server. */
export function assertRequest<Req extends TSchema, Rep extends TSchema>(
  command: CommandDef<Req, Rep>,
  request: unknown,
): void {
  if (!command.requestChecker.check(request)) {
    throw new InvalidMessageError(
      `bus: invalid ${command.service}.${command.verb} request: ${formatIssues(command.requestChecker.issues(request))}`,
      command.requestChecker.issues(request),
    );
  }
}
