import { BusEnv } from '@immune/bus';
import { IDENTITY_STRATEGIES } from '@immune/core';
import { type Config, serviceEnv } from '@immune/runtime';
import Type, { type Static } from 'typebox';

/**
 * One MCP server behind the proxy. Requests under `prefix` go to `url` with the prefix replaced by the URL's
 * own path: prefix `/github`, url `http://github-mcp:3000/api` maps `/github/mcp` to `http://github-mcp:3000/api/mcp`.
 * The URL is fixed configuration: a client never names a host, so the proxy cannot be pointed anywhere else.
 */
export const McpUpstream = Type.Object(
  {
    /** The `mcp_server` of this server's vitals. */
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    /** Path prefix on the proxy: `/` or `/<segment>[/<segment>...]`, without a trailing slash. */
    prefix: Type.String({ pattern: '^/$|^(/[A-Za-z0-9._~-]+)+$' }),
    url: Type.String({ pattern: '^https?://[^\\s/@?#]+(/[^\\s?#@]*)?$' }),
  },
  { additionalProperties: false },
);
export type McpUpstream = Static<typeof McpUpstream>;

/** Everything the MCP proxy reads from its environment. Tool policy comes from the `immune_gateway` bucket. */
export const McpProxyEnv = Type.Object({
  ...serviceEnv('MCP_PROXY_PORT', 4001),
  ...BusEnv,
  /** One MCP server mounted at `/` (named `MCP_UPSTREAM_NAME`); combine with `MCP_UPSTREAMS` for more. */
  MCP_UPSTREAM_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/@?#]+(/[^\\s?#@]*)?$' })),
  MCP_UPSTREAM_NAME: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', default: 'default' }),
  /** Named MCP servers (JSON array of `{ name, prefix, url }`), one path prefix each. */
  MCP_UPSTREAMS: Type.Array(McpUpstream, { default: [] }),
  /** How agents are recognised, in order: the gateway's order by default, so LLM and tool calls share an id. */
  MCP_PROXY_IDENTITY_ORDER: Type.Array(Type.Enum(IDENTITY_STRATEGIES), { default: [...IDENTITY_STRATEGIES] }),
  MCP_PROXY_AGENT_HEADER: Type.String({ minLength: 1, default: 'x-immune-agent' }),
  /**
   * Origins a browser-based client may call from (DNS-rebinding protection). A request with an `Origin` header
   * passes when the origin is listed or is the proxy's own (same scheme, host and port as the request's Host).
   */
  MCP_PROXY_ALLOWED_ORIGINS: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Host header values accepted (name or name:port). Empty: any host, unless HOST binds a loopback address,
   * where only loopback names are accepted (`localhost`, `127.0.0.1`, `[::1]`). */
  MCP_PROXY_ALLOWED_HOSTS: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Longest wait for upstream response headers, ms: a tool answered with plain JSON may run for minutes. */
  MCP_PROXY_UPSTREAM_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 600_000 }),
  /**
   * Longest silence inside a JSON (non-SSE) response body, ms. SSE streams have no idle limit at all: a GET
   * stream may rightly stay silent for hours.
   */
  MCP_PROXY_UPSTREAM_BODY_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 300_000 }),
  /** A client that reads nothing for this long while the proxy has bytes for it is cut off, ms. */
  MCP_PROXY_CLIENT_STALL_MS: Type.Integer({ minimum: 100, default: 60_000 }),
  /**
   * A call whose HTTP exchange ended without its result (the result may still come on a resumed stream) is
   * settled after this long with a `client_aborted` or `upstream_timeout` vital, ms.
   */
  MCP_PROXY_PENDING_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 600_000 }),
  /** Under soft containment, tool calls per minute an agent keeps (per replica); beyond, calls are refused. */
  MCP_PROXY_SOFT_CALLS_PER_MINUTE: Type.Integer({ minimum: 0, default: 6 }),
  /** Connections kept per upstream origin. */
  MCP_PROXY_UPSTREAM_CONNECTIONS: Type.Integer({ minimum: 1, default: 256 }),
  /** Vitals kept in memory while the bus is unreachable. */
  MCP_PROXY_VITALS_BUFFER: Type.Integer({ minimum: 100, default: 50_000 }),
});
export type McpProxyConfig = Config<typeof McpProxyEnv>;
