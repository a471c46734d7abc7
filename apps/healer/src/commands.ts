import {
  type Bus,
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
import type { Healer } from './healer.js';

/**
 * Registers every `immune.cmd.healer.*` handler on the bus. Each is one call into the healer: requests are
 * validated by the bus against the command's schema, and the workflow lives in `Healer`.
 */
export function serveCommands(bus: Bus, healer: Healer): Promise<Subscription[]> {
  return Promise.all([
    bus.handleCommand(HEALER_APPROVALS, async (request) => ({
      approvals: await healer.readModel.approvals({
        status: request.status ?? 'pending',
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 100,
      }),
    })),
    bus.handleCommand(HEALER_APPROVE, (request) => healer.decide('approve', request)),
    bus.handleCommand(HEALER_REJECT, (request) => healer.decide('reject', request)),
    bus.handleCommand(HEALER_HEAL, (request) => healer.decide('heal', request)),
    bus.handleCommand(HEALER_FEEDBACK, (request) => healer.recordFeedback(request)),
    bus.handleCommand(HEALER_QUARANTINE, (request) => healer.quarantine(request)),
    bus.handleCommand(HEALER_RELEASE, (request) => healer.release(request)),
    bus.handleCommand(HEALER_INFECTIONS, async (request) => ({
      infections: await healer.readModel.infections({
        ...(request.infection_id === undefined ? {} : { infectionId: request.infection_id }),
        ...(request.agent_id === undefined ? {} : { agentId: request.agent_id }),
        limit: request.limit ?? 50,
      }),
    })),
    bus.handleCommand(HEALER_AGENTS, async (request) => ({
      agents: await healer.readModel.agents({ limit: request.limit ?? 1000 }),
    })),
  ]);
}
