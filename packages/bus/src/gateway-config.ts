import Type, { type Static } from 'typebox';
import { defineBucket } from './messages.js';

/**
 * A policy is a set of rules for a scope. Operators write them in GATEWAY_POLICIES or the management API; the
 * healer writes them as cures (throttle, cap max_tokens, strip or allow-list tools, pin or downgrade model,
 * reroute, block). All live in the `immune_gateway` KV bucket so every replica applies the same set.
 */
export const PolicyScope = Type.Union([
  Type.Object({ kind: Type.Literal('global') }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('agent'), agent_id: Type.String({ minLength: 1 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('key'), key_fingerprint: Type.String({ pattern: '^key-[0-9a-f]{16}$' }) },
    { additionalProperties: false },
  ),
]);
export type PolicyScope = Static<typeof PolicyScope>;

export const PolicyRules = Type.Object(
  {
    requests_per_minute: Type.Optional(Type.Integer({ minimum: 0 })),
    tokens_per_minute: Type.Optional(Type.Integer({ minimum: 0 })),
    token_budget: Type.Optional(
      Type.Object(
        { tokens: Type.Integer({ minimum: 0 }), window_ms: Type.Integer({ minimum: 1000 }) },
        { additionalProperties: false },
      ),
    ),
    allow_models: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    deny_models: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Tools the agent may use: the gateway strips others from LLM requests, the MCP proxy refuses their calls. */
    allow_tools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** No tools at all (the healer's "revoke tools" cure): stripped from LLM requests, every MCP call refused. */
    strip_tools: Type.Optional(Type.Boolean()),
    /** Tools the agent may not call through the MCP proxy (wins over `allow_tools`). */
    deny_tools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** MCP tool calls per minute, counted per agent and per tool, on each MCP proxy replica. */
    tool_calls_per_minute: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Per-tool overrides of `tool_calls_per_minute`: tool name -> calls per minute. */
    tool_calls_per_minute_by_tool: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })),
    ),
    pin_model: Type.Optional(Type.String({ minLength: 1 })),
    block: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PolicyRules = Static<typeof PolicyRules>;

export const Policy = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    scope: PolicyScope,
    rules: PolicyRules,
    source: Type.Union([Type.Literal('config'), Type.Literal('operator'), Type.Literal('healer')]),
    reason: Type.Optional(Type.String()),
    expires_at: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type Policy = Static<typeof Policy>;

/** Whether a policy is in force for this caller now: scope matches (global, its agent, its key) and not expired. */
export function policyApplies(
  policy: Policy,
  agentId: string,
  keyFingerprint: string | undefined,
  now: number,
): boolean {
  if (policy.expires_at !== undefined && policy.expires_at <= now) return false;
  switch (policy.scope.kind) {
    case 'global':
      return true;
    case 'agent':
      return policy.scope.agent_id === agentId;
    case 'key':
      return policy.scope.key_fingerprint === keyFingerprint;
  }
}

/**
 * An upstream the gateway may call. Clients never name a host: the gateway builds every upstream URL from
 * this registry, so a request cannot make it call anything else (no SSRF through the proxy).
 */
export const Provider = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }),
    /**
     * Which API the provider speaks and how it is addressed: `openai`, `openai_compatible` (vLLM, LiteLLM,
     * Ollama's /v1), `azure`, `gemini` (Google's OpenAI-compatible endpoint, base URL
     * https://generativelanguage.googleapis.com/v1beta/openai), `anthropic`, `ollama` (Ollama's native /api).
     */
    kind: Type.Union([
      Type.Literal('openai'),
      Type.Literal('openai_compatible'),
      Type.Literal('azure'),
      Type.Literal('gemini'),
      Type.Literal('anthropic'),
      Type.Literal('ollama'),
    ]),
    /** For OpenAI-style providers, what OPENAI_BASE_URL would be (e.g. https://api.openai.com/v1). */
    base_url: Type.String({ pattern: '^https?://[^\\s/@?#]+(/[^\\s?#@]*)?$' }),
    /** Azure only: the api-version query parameter. */
    api_version: Type.Optional(Type.String({ minLength: 1 })),
    /** Azure only: model name -> deployment name; unmapped models use the model name as deployment. */
    deployments: Type.Optional(Type.Record(Type.String(), Type.String({ pattern: '^[A-Za-z0-9._-]+$' }))),
    /**
     * Where the upstream key comes from: `passthrough` forwards the agent's own key (the default: agents keep
     * their key and only change the base URL); `{ env }` names a gateway environment variable, so keys never
     * sit in the KV bucket.
     */
    auth: Type.Optional(
      Type.Union([
        Type.Literal('passthrough'),
        Type.Object({ env: Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' }) }),
      ]),
    ),
  },
  { additionalProperties: false },
);
export type Provider = Static<typeof Provider>;

/** Which provider an agent's traffic goes to, per API family. `agent_id: '*'` is the default route. */
export const Route = Type.Object(
  {
    agent_id: Type.String({ minLength: 1 }),
    openai: Type.Optional(Type.String({ minLength: 1 })),
    anthropic: Type.Optional(Type.String({ minLength: 1 })),
    ollama: Type.Optional(Type.String({ minLength: 1 })),
    source: Type.Optional(
      Type.Union([Type.Literal('config'), Type.Literal('operator'), Type.Literal('healer')]),
    ),
  },
  { additionalProperties: false },
);
export type Route = Static<typeof Route>;

/** One entry of the `<prefix>_gateway` KV bucket; keys are built with `gatewayKey`. */
export const GatewayConfigEntry = Type.Union([
  Type.Object({ kind: Type.Literal('provider'), provider: Provider }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('route'), route: Route }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('policy'), policy: Policy }, { additionalProperties: false }),
]);
export type GatewayConfigEntry = Static<typeof GatewayConfigEntry>;

export const GATEWAY_BUCKET = defineBucket({ name: 'gateway', schema: GatewayConfigEntry, history: 5 });

export const gatewayKey = {
  provider: (name: string) => `provider:${name}`,
  route: (agentId: string) => `route:${agentId}`,
  policy: (id: string) => `policy:${id}`,
};

/**
 * A fleet-wide counter of one limit (a policy's requests per minute, tokens per minute or token budget) for one
 * fixed window: how much of `limit` the gateway replicas have leased so far. Replicas lease shares with a
 * compare-and-set and spend them locally, so NATS stays off the request path (docs/gateway.md, "Limits that
 * hold across replicas"). Keys: `<policy id>:<rpm|tpm|budget>:<window start, ms>`.
 */
export const LimitCounter = Type.Object(
  {
    granted: Type.Integer({ minimum: 0 }),
    limit: Type.Integer({ minimum: 0 }),
    window_start: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type LimitCounter = Static<typeof LimitCounter>;

/** Counters of past windows expire on their own; budgets may have windows of up to 31 days. */
export const GATEWAY_LIMITS_BUCKET = defineBucket({
  name: 'gateway_limits',
  schema: LimitCounter,
  history: 1,
  maxAgeMs: 32 * 24 * 3_600_000,
});
