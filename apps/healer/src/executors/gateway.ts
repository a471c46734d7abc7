import { createHash } from 'node:crypto';
import {
  type Bus,
  GATEWAY_BUCKET,
  type GatewayConfigEntry,
  gatewayKey,
  type KvBucket,
  type PolicyRules,
  QUARANTINE_BUCKET,
  type QuarantineEntry,
} from '@immune/bus';
import { containmentLevel, type HealingActionType } from '@immune/core';
import type { ActionRequest, ActionResult, AgentTarget, Enforcer, HealingExecutor } from './types.js';

export interface GatewayCureSettings {
  capMaxTokens: number;
  throttleRpm: number;
  downgradeModel: string;
  toolAllowlist: readonly string[];
  rerouteProvider: string | undefined;
}

const GATEWAY_ACTIONS: ReadonlySet<HealingActionType> = new Set([
  'throttle',
  'cap_max_tokens',
  'strip_tools',
  'allowlist_tools',
  'pin_model',
  'downgrade_model',
  'reroute_provider',
  'block',
]);

/** One policy per agent and action, with a stable id, so applying a cure twice writes the same entry. */
export function curePolicyId(agentId: string, action: HealingActionType): string {
  const digest = createHash('sha256').update(agentId).digest('hex').slice(0, 16);
  return `healer-${digest}-${action}`;
}

/**
 * Cures as gateway configuration: a policy scoped to the agent in the `immune_gateway` bucket (a route for a
 * reroute), which every gateway replica applies from its next request. Reverting deletes exactly what the
 * healer wrote.
 */
export function createGatewayExecutor(bus: Bus, settings: GatewayCureSettings): HealingExecutor {
  let bucket: Promise<KvBucket<GatewayConfigEntry>> | undefined;
  const kv = () => {
    bucket ??= bus.kv(GATEWAY_BUCKET);
    return bucket;
  };

  const rulesFor = (action: HealingActionType, agent: AgentTarget): PolicyRules | undefined => {
    switch (action) {
      case 'throttle':
        return { requests_per_minute: settings.throttleRpm };
      case 'cap_max_tokens':
        return { max_tokens: settings.capMaxTokens };
      case 'strip_tools':
        return { strip_tools: true };
      case 'allowlist_tools':
        return settings.toolAllowlist.length > 0
          ? { allow_tools: [...settings.toolAllowlist] }
          : { strip_tools: true };
      case 'pin_model':
        return agent.model === null ? undefined : { pin_model: agent.model };
      case 'downgrade_model':
        return { pin_model: settings.downgradeModel };
      case 'block':
        return { block: true };
      default:
        return undefined;
    }
  };

  return {
    name: 'gateway',
    supports(action, agent) {
      if (!GATEWAY_ACTIONS.has(action)) return false;
      if (action === 'reroute_provider') return settings.rerouteProvider !== undefined;
      if (action === 'pin_model') return agent.model !== null;
      return true;
    },
    async apply(request: ActionRequest): Promise<ActionResult> {
      const bucket = await kv();
      const agentId = request.agent.agent_id;
      if (request.action === 'reroute_provider') {
        if (settings.rerouteProvider === undefined)
          return { ok: false, unavailable: true, detail: 'HEALER_REROUTE_PROVIDER is not set' };
        await bucket.put(gatewayKey.route(agentId), {
          kind: 'route',
          route: { agent_id: agentId, openai: settings.rerouteProvider, source: 'healer' },
        });
        return { ok: true, detail: `gateway route to ${settings.rerouteProvider}` };
      }
      const rules = rulesFor(request.action, request.agent);
      if (rules === undefined)
        return { ok: false, unavailable: true, detail: `no gateway policy for ${request.action}` };
      const id = curePolicyId(agentId, request.action);
      await bucket.put(gatewayKey.policy(id), {
        kind: 'policy',
        policy: {
          id,
          scope: { kind: 'agent', agent_id: agentId },
          rules,
          source: 'healer',
          reason: `${request.diagnosis}: ${request.action} (infection ${request.infectionId})`,
        },
      });
      return { ok: true, detail: `gateway policy ${id} ${JSON.stringify(rules)}` };
    },
    async revert(agent, action) {
      const bucket = await kv();
      if (action === 'reroute_provider') {
        const route = await bucket.get(gatewayKey.route(agent.agent_id));
        // Only a route the healer wrote: an operator's own route for this agent stays.
        if (route?.kind !== 'route' || route.route.source !== 'healer') return false;
        await bucket.delete(gatewayKey.route(agent.agent_id));
        return true;
      }
      if (!GATEWAY_ACTIONS.has(action)) return false;
      const key = gatewayKey.policy(curePolicyId(agent.agent_id, action));
      if ((await bucket.get(key)) === undefined) return false;
      await bucket.delete(key);
      return true;
    },
  };
}

/**
 * Gateway enforcement: makes sure the agent has an entry in the quarantine bucket, which every gateway and MCP
 * proxy enforces. The sentinel normally wrote it already; the healer writes one only when none is there, and
 * removes only entries that are not the sentinel's.
 */
export function createGatewayEnforcer(bus: Bus, now: () => number = Date.now): Enforcer {
  let bucket: Promise<KvBucket<QuarantineEntry>> | undefined;
  const kv = () => {
    bucket ??= bus.kv(QUARANTINE_BUCKET);
    return bucket;
  };
  return {
    name: 'gateway',
    async hold(agent, reason, infectionId) {
      const quarantine = await kv();
      // A soft containment entry holds nothing: the hold replaces it with a full one.
      const existing = await quarantine.get(agent.agent_id);
      if (existing !== undefined && containmentLevel(existing) === 'full') return;
      await quarantine.put(agent.agent_id, {
        agent_id: agent.agent_id,
        state: 'QUARANTINED',
        reason,
        since: now(),
        by: 'healer',
        ...(infectionId === undefined ? {} : { infection_id: infectionId }),
      });
    },
    async lift(agent) {
      const quarantine = await kv();
      const entry = await quarantine.get(agent.agent_id);
      if (entry !== undefined && entry.by !== 'sentinel') await quarantine.delete(agent.agent_id);
    },
  };
}
