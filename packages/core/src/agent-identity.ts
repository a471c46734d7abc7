import { createHash } from 'node:crypto';

/*
 * Who is calling, from a request's headers and peer address: one definition for every proxy in front of agents
 * (the LLM gateway and the MCP proxy), so an agent's LLM calls and its tool calls carry the same agent id.
 * Pure: a function of its arguments (SHA-256 is computation, not I/O).
 */

/** How an agent was recognised, in the order the proxies try them by default. */
export const IDENTITY_STRATEGIES = ['header', 'api_key', 'ip_user_agent'] as const;
export type IdentityStrategy = (typeof IDENTITY_STRATEGIES)[number];

export interface AgentIdentity {
  agentId: string;
  identity: IdentityStrategy;
}

export interface IdentityOptions {
  order: readonly IdentityStrategy[];
  /** Header that names the agent explicitly (lower-case). */
  header: string;
}

export const DEFAULT_IDENTITY_OPTIONS: IdentityOptions = {
  order: IDENTITY_STRATEGIES,
  header: 'x-immune-agent',
};

type Headers = Record<string, string | string[] | undefined>;

const VALID_AGENT_ID = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;

/** An agent id anyone may name explicitly (header, OTLP resource): 1-256 printable ASCII characters. */
export function isValidAgentId(value: string): boolean {
  return VALID_AGENT_ID.test(value);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The caller's API key, wherever its SDK puts it: OpenAI (Bearer), Anthropic (x-api-key), Azure (api-key). */
export function apiKeyOf(headers: Headers): string | undefined {
  const authorization = first(headers.authorization);
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim() || undefined;
  return first(headers['x-api-key']) ?? first(headers['api-key']);
}

/**
 * A stable, non-reversible name for a key. Only this fingerprint is ever stored or logged; the key is not.
 */
export function keyFingerprint(key: string): string {
  return `key-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * Resolves who is calling by the configured strategies, in order. An explicit header wins by default; a key
 * fingerprint groups all calls made with one key; IP + User-Agent is the last resort for anonymous callers.
 * Returns a `{ error }` when the explicit header is present but unusable, so a typo is reported instead of
 * silently falling back to another identity.
 */
export function identifyAgent(
  headers: Headers,
  remoteAddress: string,
  options: IdentityOptions = DEFAULT_IDENTITY_OPTIONS,
): AgentIdentity | { error: string } {
  for (const strategy of options.order) {
    if (strategy === 'header') {
      const named = first(headers[options.header]);
      if (named === undefined) continue;
      if (!isValidAgentId(named)) {
        return { error: `${options.header} must be 1-256 printable ASCII characters` };
      }
      return { agentId: named, identity: 'header' };
    }
    if (strategy === 'api_key') {
      const key = apiKeyOf(headers);
      if (key) return { agentId: keyFingerprint(key), identity: 'api_key' };
      continue;
    }
    const userAgent = first(headers['user-agent']) ?? '';
    const digest = createHash('sha256').update(`${remoteAddress}|${userAgent}`).digest('hex').slice(0, 16);
    return { agentId: `anon-${digest}`, identity: 'ip_user_agent' };
  }
  return { error: 'no agent identity: send an X-Immune-Agent header or an API key' };
}
