import {
  type Bus,
  type CommandContext,
  type CommandDef,
  HEALER_AGENTS,
  HEALER_APPROVALS,
  HEALER_APPROVE,
  HEALER_FEEDBACK,
  HEALER_HEAL,
  HEALER_INFECTIONS,
  HEALER_QUARANTINE,
  HEALER_REJECT,
  HEALER_RELEASE,
  type Subscription,
} from '@immune/bus';
import { authorizeOperator, type OperatorRole, type OperatorTokens } from '@immune/runtime';
import type { Static, TSchema } from 'typebox';
import type { Healer, OperatorActor } from './healer.js';

/**
 * Registers every `immune.cmd.healer.*` handler on the bus. Each is one call into the healer: requests are
 * validated by the bus against the command's schema, the operator token beside the request is checked here
 * (reads: any role; decisions: the operator role), and the workflow lives in `Healer`. A refused token is an
 * error reply (`unauthenticated` / `forbidden`) the caller shows as it is.
 */
export function serveCommands(bus: Bus, healer: Healer, tokens: OperatorTokens): Promise<Subscription[]> {
  const serve = <Req extends TSchema, Rep extends TSchema>(
    command: CommandDef<Req, Rep>,
    needs: OperatorRole,
    handler: (request: Static<Req>, actor: OperatorActor) => Promise<Static<Rep>>,
  ) =>
    bus.handleCommand(command, async (request, context: CommandContext) => {
      const identity = authorizeOperator(
        tokens,
        context.operatorToken,
        needs,
        `${command.service}.${command.verb}`,
      );
      return handler(request, { name: identity.name, token: context.operatorToken! });
    });
  return Promise.all([
    serve(HEALER_APPROVALS, 'viewer', async (request) => ({
      approvals: await healer.readModel.approvals({
        status: request.status ?? 'pending',
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 100,
      }),
    })),
    serve(HEALER_APPROVE, 'operator', (request, actor) => healer.decide('approve', request, actor)),
    serve(HEALER_REJECT, 'operator', (request, actor) => healer.decide('reject', request, actor)),
    serve(HEALER_HEAL, 'operator', (request, actor) => healer.decide('heal', request, actor)),
    serve(HEALER_FEEDBACK, 'operator', (request, actor) => healer.recordFeedback(request, actor)),
    serve(HEALER_QUARANTINE, 'operator', (request, actor) => healer.quarantine(request, actor)),
    serve(HEALER_RELEASE, 'operator', (request, actor) => healer.release(request, actor)),
    serve(HEALER_INFECTIONS, 'viewer', async (request) => ({
      infections: await healer.readModel.infections({
        ...(request.infection_id === undefined ? {} : { infectionId: request.infection_id }),
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 50,
      }),
    })),
    serve(HEALER_AGENTS, 'viewer', async (request) => ({
      agents: await healer.readModel.agents({ limit: request.limit ?? 1000 }),
    })),
  ]);
}
