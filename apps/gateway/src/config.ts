import { BusEnv, Policy, Provider, Route } from '@immune/bus';
import { IDENTITY_STRATEGIES, PricingEnv } from '@immune/core';
import { type Config, OperatorTokensEnv, serviceEnv } from '@immune/runtime';
import { StoreEnv } from '@immune/store';
import Type from 'typebox';

/**
 * Everything the gateway reads from its environment. Providers, routes and policies given here are the
 * deployment's base layer; entries in the `immune_gateway` KV bucket (management API, healer) are applied on
 * top of them, by name, on every replica at once.
 */
export const GatewayEnv = Type.Object({
  ...serviceEnv('GATEWAY_PORT', 4000),
  ...BusEnv,
  /** Default OpenAI-style upstream, what OPENAI_BASE_URL would be for a direct call. */
  LLM_UPSTREAM_URL: Type.String({ format: 'uri', default: 'https://api.openai.com/v1' }),
  /** Default Anthropic upstream. */
  ANTHROPIC_UPSTREAM_URL: Type.String({ format: 'uri', default: 'https://api.anthropic.com' }),
  /** Default Ollama upstream for its native API (`/api/chat`, ...); clients set OLLAMA_HOST to the gateway. */
  OLLAMA_UPSTREAM_URL: Type.String({ format: 'uri', default: 'http://127.0.0.1:11434' }),
  /** Extra named providers (JSON array): Azure OpenAI, vLLM, Ollama, other OpenAI-compatible servers. */
  GATEWAY_PROVIDERS: Type.Array(Provider, { default: [] }),
  /** Per-agent routes (JSON array); `agent_id: "*"` changes the default. */
  GATEWAY_ROUTES: Type.Array(Route, { default: [] }),
  /** Policies (JSON array): rate limits, model lists, budgets, max_tokens clamps, tool allow-lists. */
  GATEWAY_POLICIES: Type.Array(Policy, { default: [] }),
  /** The fleet's operator tokens (hashes) for /api/gateway/*. None: the management API answers 503 (never open). */
  ...OperatorTokensEnv,
  /**
   * The fleet's PostgreSQL, read by the management API's fleet view (/agents, /stats, /agent/{id}/vitals);
   * unset: those answer 503 and only /replica/* answers. Never on the proxy path.
   */
  DATABASE_URL: StoreEnv.DATABASE_URL,
  IMMUNE_DB_SCHEMA: StoreEnv.IMMUNE_DB_SCHEMA,
  ...PricingEnv,
  /** How agents are recognised, in order. */
  GATEWAY_IDENTITY_ORDER: Type.Array(Type.Enum(IDENTITY_STRATEGIES), { default: [...IDENTITY_STRATEGIES] }),
  GATEWAY_AGENT_HEADER: Type.String({ minLength: 1, default: 'x-immune-agent' }),
  /** Longest wait for upstream response headers, ms; long non-streamed completions need minutes. */
  GATEWAY_UPSTREAM_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 600_000 }),
  /** Longest silence between two body chunks of an upstream response, ms (a reasoning model may think). */
  GATEWAY_UPSTREAM_BODY_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 300_000 }),
  /** Connections kept per upstream origin. */
  GATEWAY_UPSTREAM_CONNECTIONS: Type.Integer({ minimum: 1, default: 256 }),
  /** Vitals kept in memory while the bus is unreachable. */
  GATEWAY_VITALS_BUFFER: Type.Integer({ minimum: 100, default: 50_000 }),
  /** Window in which a repeated identical request counts as a retry, ms. */
  GATEWAY_RETRY_WINDOW_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
});
export type GatewayConfig = Config<typeof GatewayEnv>;
