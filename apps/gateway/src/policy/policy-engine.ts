import { SlidingWindowCounter } from './limiter.js';
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
  private readonly requests = new SlidingWindowCounter(MINUTE);
  private readonly tokens = new SlidingWindowCounter(MINUTE);
  private readonly budgets = new Map<number, SlidingWindowCounter>();
  private readonly mergedCache = new Map<string, { policies: Policy[]; rules: EffectiveRules }>();

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
      if (
        r.requests_per_minute !== undefined &&
        this.requests.total(policy.id, now) >= r.requests_per_minute
      ) {
        return deny(
          429,
          'rate_limited',
          policy.id,
          `rate limit of ${r.requests_per_minute} requests per minute reached (policy '${policy.id}')`,
          Math.max(1, Math.ceil(60 / Math.max(1, r.requests_per_minute))),
        );
      }
      if (r.tokens_per_minute !== undefined && this.tokens.total(policy.id, now) >= r.tokens_per_minute) {
        return deny(
          429,
          'token_rate_limited',
          policy.id,
          `token limit of ${r.tokens_per_minute} tokens per minute reached (policy '${policy.id}')`,
          10,
        );
      }
      if (
        r.token_budget &&
        this.budget(r.token_budget.window_ms).total(policy.id, now) >= r.token_budget.tokens
      ) {
        return deny(
          429,
          'token_budget_exhausted',
          policy.id,
          `token budget of ${r.token_budget.tokens} tokens per ${Math.round(r.token_budget.window_ms / 1000)} s is spent (policy '${policy.id}')`,
          Math.ceil(r.token_budget.window_ms / 1000),
        );
      }
    }
    for (const policy of policies) {
      if (policy.rules.requests_per_minute !== undefined) this.requests.add(policy.id, 1, now);
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
      if (policy.rules.tokens_per_minute !== undefined) this.tokens.add(policy.id, tokens, now);
      if (policy.rules.token_budget)
        this.budget(policy.rules.token_budget.window_ms).add(policy.id, tokens, now);
    }
  }

  private budget(windowMs: number): SlidingWindowCounter {
    let counter = this.budgets.get(windowMs);
    if (!counter) {
      counter = new SlidingWindowCounter(windowMs);
      this.budgets.set(windowMs, counter);
    }
    return counter;
  }
}
