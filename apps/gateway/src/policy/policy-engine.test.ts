import { createEmbeddedBus } from '@immune/bus';
import { uniquePrefix } from '@immune/bus/testing';
import { createLogger } from '@immune/runtime';
import { describe, expect, it } from 'vitest';
import { FleetLimits } from './fleet-limits.js';
import type { Policy } from './policy.js';
import { PolicyEngine, type RequestFacts } from './policy-engine.js';

const facts = (overrides: Partial<RequestFacts> = {}): RequestFacts => ({
  agentId: 'agent-a',
  keyFingerprint: 'key-0123456789abcdef',
  model: 'gpt-4o',
  tools: [],
  ...overrides,
});
const policy = (id: string, scope: Policy['scope'], rules: Policy['rules']): Policy => ({
  id,
  scope,
  rules,
  source: 'config',
});
/** A policy engine counting through real fleet limits over the embedded bus (no lease is faked). */
const engineWith = async (...policies: Policy[]) => {
  const limits = new FleetLimits(createLogger({ service: 'test', level: 'silent' }));
  await limits.start(createEmbeddedBus({ prefix: uniquePrefix('policy') }));
  const engine = new PolicyEngine(limits);
  engine.setPolicies(policies);
  return engine;
};

/** Lets background leases land. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('PolicyEngine', () => {
  it('allows everything when no policy applies', async () => {
    const engine = await engineWith(policy('other', { kind: 'agent', agent_id: 'b' }, { block: true }));
    expect(engine.decide(facts())).toMatchObject({
      allow: true,
      mutations: { stripTools: false },
    });
  });

  it('rate-limits requests per minute with a 429 that names the policy', async () => {
    const engine = await engineWith(
      policy('slow-a', { kind: 'agent', agent_id: 'agent-a' }, { requests_per_minute: 2 }),
    );
    expect(engine.decide(facts(), 0).allow).toBe(true);
    await settle();
    expect(engine.decide(facts(), 10).allow).toBe(true);
    await settle();
    expect(engine.decide(facts(), 20)).toMatchObject({
      allow: false,
      status: 429,
      code: 'rate_limited',
      policy: 'slow-a',
      message: expect.stringMatching(/2 requests per minute.*slow-a/),
      retryAfterSeconds: 30,
    });
    expect(engine.decide(facts({ agentId: 'agent-b' }), 20).allow).toBe(true);
    // A new window.
    expect(engine.decide(facts(), 60_000).allow).toBe(true);
  });

  it('counts a global limit across every agent', async () => {
    const engine = await engineWith(policy('fleet', { kind: 'global' }, { requests_per_minute: 2 }));
    engine.decide(facts({ agentId: 'x' }), 0);
    await settle();
    engine.decide(facts({ agentId: 'y' }), 0);
    await settle();
    expect(engine.decide(facts({ agentId: 'z' }), 0)).toMatchObject({ allow: false, policy: 'fleet' });
  });

  it('enforces tokens per minute and token budgets after usage is recorded', async () => {
    const engine = await engineWith(
      policy('tpm', { kind: 'key', key_fingerprint: 'key-0123456789abcdef' }, { tokens_per_minute: 1000 }),
      policy(
        'budget',
        { kind: 'agent', agent_id: 'agent-a' },
        { token_budget: { tokens: 5000, window_ms: 3_600_000 } },
      ),
    );
    const first = engine.decide(facts(), 0);
    if (!first.allow) throw new Error('expected allow');
    engine.recordUsage(first.accounts, 1200, 1);
    await settle();
    expect(engine.decide(facts(), 2)).toMatchObject({
      allow: false,
      code: 'token_rate_limited',
      policy: 'tpm',
    });
    engine.recordUsage(first.accounts, 4000, 3);
    await settle();
    expect(engine.decide(facts(), 3 * 60_000)).toMatchObject({
      allow: false,
      code: 'token_budget_exhausted',
      policy: 'budget',
    });
  });

  it('denies models by deny- and allow-lists, after applying a pin', async () => {
    const engine = await engineWith(
      policy('no-gpt4', { kind: 'global' }, { deny_models: ['gpt-4o'] }),
      policy(
        'cheap',
        { kind: 'key', key_fingerprint: 'key-0123456789abcdef' },
        { allow_models: ['gpt-4o-mini', 'gpt-4o'] },
      ),
    );
    expect(engine.decide(facts())).toMatchObject({
      allow: false,
      status: 403,
      code: 'model_denied',
      policy: 'no-gpt4',
    });
    expect(engine.decide(facts({ model: 'o3' }))).toMatchObject({
      allow: false,
      code: 'model_not_allowed',
      policy: 'cheap',
    });
    expect(engine.decide(facts({ model: 'gpt-4o-mini' })).allow).toBe(true);
    const pinned = await engineWith(
      policy('no-gpt4', { kind: 'global' }, { deny_models: ['gpt-4o'] }),
      policy('pin', { kind: 'agent', agent_id: 'agent-a' }, { pin_model: 'gpt-4o-mini' }),
    );
    expect(pinned.decide(facts())).toMatchObject({ allow: true, mutations: { model: 'gpt-4o-mini' } });
  });

  it('merges clamps and tool rules, most restrictive first', async () => {
    const engine = await engineWith(
      policy('g', { kind: 'global' }, { max_tokens: 4000, allow_tools: ['search', 'fetch', 'write'] }),
      policy(
        'cure',
        { kind: 'agent', agent_id: 'agent-a' },
        { max_tokens: 512, allow_tools: ['search', 'fetch'] },
      ),
    );
    const decision = engine.decide(facts());
    expect(decision).toMatchObject({ allow: true, mutations: { maxTokens: 512, stripTools: false } });
    if (decision.allow)
      expect([...(decision.mutations.allowTools ?? [])].sort()).toEqual(['fetch', 'search']);
  });

  it('blocks, and forgets expired policies', async () => {
    const engine = await engineWith({
      ...policy('quarantine-cure', { kind: 'agent', agent_id: 'agent-a' }, { block: true }),
      expires_at: 100,
    });
    expect(engine.decide(facts(), 50)).toMatchObject({
      allow: false,
      status: 403,
      code: 'blocked_by_policy',
    });
    expect(engine.decide(facts(), 150).allow).toBe(true);
  });
});
