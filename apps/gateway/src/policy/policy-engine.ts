import type { LimitCounters, LimitKey } from './fleet-limits.js';
import { applies, type EffectiveRules, mergeRules, type Policy } from './policy.js';

export interface RequestFacts {
  agentId: string;
  keyFingerprint: string | undefined;
  model: string | undefined;
  /** Tool names the request offers the model. */
  tools: readonly string[];
}

export interface Mutations {
  /** Replace the request's model (pin or downgrade). */
  model?: string;
  /** Clamp max_tokens / max_completion_tokens / max_output_tokens to this. */
  maxTokens?: number;
  /** Remove every tool. */
  stripTools: boolean;
  /** Keep only these tools. */
  allowTools?: ReadonlySet<string>;
}

export type PolicyDecision =
  | { allow: true; mutations: Mutations; accounts: readonly Policy[] }
  | {
      allow: false;
      status: 403 | 429;
      code: string;
      policy: string;
      message: string;
      retryAfterSeconds?: number;
    };

const MINUTE = 60_000;

/**
 * Decides each request against the policies that apply to its agent and key. Limits are checked per policy
 * (a global limit counts everyone, a key limit everyone on that key, an agent limit that agent), while
 * model, tool, max_tokens and pin rules come from the merged view.
 */
export class PolicyEngine {
  private policies: readonly Policy[] = [];
  private readonly mergedCache = new Map<string, { policies: Policy[]; rules: EffectiveRules }>();

  /** Limits are counted by `counters`: fleet-wide leases (`FleetLimits`) in every gateway. */
  constructor(private readonly counters: LimitCounters) {}

  setPolicies(policies: readonly Policy[]): void {
    this.policies = policies;
    this.mergedCache.clear();
  }

  list(): readonly Policy[] {
    return this.policies;
  }

  private applicable(facts: RequestFacts, now: number): { policies: Policy[]; rules: EffectiveRules } {
    const key = `${facts.agentId}\0${facts.keyFingerprint ?? ''}`;
    const cached = this.mergedCache.get(key);
    if (cached?.policies.every((p) => p.expires_at === undefined || p.expires_at > now)) return cached;
    const policies = this.policies.filter((p) => applies(p, facts.agentId, facts.keyFingerprint, now));
    const entry = { policies, rules: mergeRules(policies) };
    if (this.mergedCache.size > 50_000) this.mergedCache.clear();
    this.mergedCache.set(key, entry);
    return entry;
  }

  decide(facts: RequestFacts, now = Date.now()): PolicyDecision {
    const { policies, rules } = this.applicable(facts, now);
    if (policies.length === 0) return { allow: true, mutations: { stripTools: false }, accounts: policies };
    const deny = (
      status: 403 | 429,
      code: string,
      policy: string,
      message: string,
      retryAfterSeconds?: number,
    ) =>
      ({
        allow: false,
        status,
        code,
        policy,
        message,
        ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
      }) as const;

    if (rules.block)
      return deny(
        403,
        'blocked_by_policy',
        rules.block,
        `requests from this agent are blocked by policy '${rules.block}'`,
      );
    const model = rules.pinModel?.model ?? facts.model;
    if (model !== undefined) {
      const denied = rules.denyModels.get(model);
      if (denied)
        return deny(403, 'model_denied', denied, `model '${model}' is denied by policy '${denied}'`);
      if (rules.allowModels && !rules.allowModels.models.has(model)) {
        return deny(
          403,
          'model_not_allowed',
          rules.allowModels.policy,
          `model '${model}' is not in the allow-list of policy '${rules.allowModels.policy}'`,
        );
      }
    }
    for (const policy of policies) {
      const r = policy.rules;
      const rpm = requestsKey(policy);
      if (rpm && this.counters.remaining(rpm, now) < 1) {
        return deny(
          429,
          'rate_limited',
          policy.id,
          `rate limit of ${r.requests_per_minute} requests per minute reached (policy '${policy.id}')`,
          Math.max(1, Math.ceil(60 / Math.max(1, r.requests_per_minute ?? 1))),
        );
      }
      const tpm = tokensKey(policy);
      if (tpm && this.counters.remaining(tpm, now) <= 0) {
        return deny(
          429,
          'token_rate_limited',
          policy.id,
          `token limit of ${r.tokens_per_minute} tokens per minute reached (policy '${policy.id}')`,
          10,
        );
      }
      const budget = budgetKey(policy);
      if (budget && this.counters.remaining(budget, now) <= 0) {
        return deny(
          429,
          'token_budget_exhausted',
          policy.id,
          `token budget of ${budget.limit} tokens per ${Math.round(budget.windowMs / 1000)} s is spent (policy '${policy.id}')`,
          Math.ceil((budget.windowMs - (now % budget.windowMs)) / 1000),
        );
      }
    }
    for (const policy of policies) {
      const rpm = requestsKey(policy);
      if (rpm) this.counters.spend(rpm, 1, now);
    }
    const mutations: Mutations = { stripTools: rules.stripTools !== undefined };
    if (rules.pinModel && rules.pinModel.model !== facts.model) mutations.model = rules.pinModel.model;
    if (rules.maxTokens) mutations.maxTokens = rules.maxTokens.limit;
    if (rules.allowTools) mutations.allowTools = rules.allowTools.tools;
    return { allow: true, mutations, accounts: policies };
  }

  /** Books the tokens a finished call used against the token limits and budgets that applied to it. */
  recordUsage(accounts: readonly Policy[], tokens: number, now = Date.now()): void {
    for (const policy of accounts) {
      const tpm = tokensKey(policy);
      if (tpm) this.counters.spend(tpm, tokens, now);
      const budget = budgetKey(policy);
      if (budget) this.counters.spend(budget, tokens, now);
    }
  }
}

function requestsKey(policy: Policy): LimitKey | undefined {
  const limit = policy.rules.requests_per_minute;
  return limit === undefined ? undefined : { policy: policy.id, kind: 'rpm', limit, windowMs: MINUTE };
}

function tokensKey(policy: Policy): LimitKey | undefined {
  const limit = policy.rules.tokens_per_minute;
  return limit === undefined ? undefined : { policy: policy.id, kind: 'tpm', limit, windowMs: MINUTE };
}

function budgetKey(policy: Policy): LimitKey | undefined {
  const budget = policy.rules.token_budget;
  return budget === undefined
    ? undefined
    : { policy: policy.id, kind: 'budget', limit: budget.tokens, windowMs: budget.window_ms };
}
