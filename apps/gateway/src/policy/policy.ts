import { type Policy, policyApplies } from '@immune/bus';

export type { Policy, PolicyRules, PolicyScope } from '@immune/bus';

/** The rules that apply to one request after every matching policy is merged, most restrictive first. */
export interface EffectiveRules {
  requestsPerMinute?: { limit: number; policy: string };
  tokensPerMinute?: { limit: number; policy: string };
  tokenBudget?: { tokens: number; windowMs: number; policy: string };
  allowModels?: { models: Set<string>; policy: string };
  denyModels: Map<string, string>;
  maxTokens?: { limit: number; policy: string };
  allowTools?: { tools: Set<string>; policy: string };
  stripTools?: string;
  pinModel?: { model: string; policy: string };
  block?: string;
}

/** Whether a policy is in force for a caller: one rule for the gateway and the MCP proxy. */
export const applies = policyApplies;

const SPECIFICITY = { global: 0, key: 1, agent: 2 } as const;

/**
 * Merges the policies that apply: the lowest limit wins, allow-lists intersect, deny-lists unite, a block
 * anywhere blocks. For a model pin, the most specific scope wins (an agent's cure beats a global default).
 * Each merged rule remembers which policy set it, so a denial can say which rule fired.
 */
export function mergeRules(policies: readonly Policy[]): EffectiveRules {
  const merged: EffectiveRules = { denyModels: new Map() };
  const ordered = [...policies].sort((a, b) => SPECIFICITY[a.scope.kind] - SPECIFICITY[b.scope.kind]);
  const lower = (
    current: { limit: number; policy: string } | undefined,
    limit: number | undefined,
    policy: string,
  ) =>
    limit !== undefined && (current === undefined || limit < current.limit) ? { limit, policy } : current;
  for (const policy of ordered) {
    const r = policy.rules;
    merged.requestsPerMinute = lower(merged.requestsPerMinute, r.requests_per_minute, policy.id);
    merged.tokensPerMinute = lower(merged.tokensPerMinute, r.tokens_per_minute, policy.id);
    merged.maxTokens = lower(merged.maxTokens, r.max_tokens, policy.id);
    if (r.token_budget && (!merged.tokenBudget || r.token_budget.tokens < merged.tokenBudget.tokens)) {
      merged.tokenBudget = {
        tokens: r.token_budget.tokens,
        windowMs: r.token_budget.window_ms,
        policy: policy.id,
      };
    }
    if (r.allow_models) {
      const models = new Set(r.allow_models);
      merged.allowModels = {
        models: merged.allowModels
          ? new Set([...merged.allowModels.models].filter((m) => models.has(m)))
          : models,
        policy: policy.id,
      };
    }
    for (const model of r.deny_models ?? []) merged.denyModels.set(model, policy.id);
    if (r.allow_tools) {
      const tools = new Set(r.allow_tools);
      merged.allowTools = {
        tools: merged.allowTools ? new Set([...merged.allowTools.tools].filter((t) => tools.has(t))) : tools,
        policy: policy.id,
      };
    }
    if (r.strip_tools) merged.stripTools = policy.id;
    if (r.pin_model) merged.pinModel = { model: r.pin_model, policy: policy.id };
    if (r.block) merged.block ??= policy.id;
  }
  return merged;
}
