import type { Provider, Route } from '@immune/bus';

export type { Provider, Route } from '@immune/bus';

/** The wire formats the gateway understands; each has one adapter in `proxy/adapters/`. */
export type ApiFamily = 'openai' | 'anthropic' | 'ollama';
export const API_FAMILIES: readonly ApiFamily[] = ['openai', 'anthropic', 'ollama'];

export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
}

/**
 * Only plain paths are proxied: no dot segments, no empty segments, no encoded separators, no backslashes or
 * authority tricks. Anything else is refused before routing.
 */
export function assertSafePath(path: string): void {
  if (!path.startsWith('/')) throw new UnsafePathError('the path must start with /');
  if (/%2f|%5c|%2e|%00|\\|@/i.test(path))
    throw new UnsafePathError('encoded separators are not allowed in the path');
  for (let start = 1; start <= path.length; ) {
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    const segment = path.slice(start, end);
    if (segment === '' || segment === '.' || segment === '..')
      throw new UnsafePathError('path has empty or dot segments');
    start = end + 1;
  }
}

/** Where a request goes: the provider's fixed origin and a path built from the registry, never from the client. */
export interface UpstreamTarget {
  provider: Provider;
  origin: string;
  /** Path and query on that origin. */
  path: string;
}

/** What differs between provider kinds: their API family, the header their key goes in, how paths map. */
interface ProviderKind {
  family: ApiFamily;
  /** The header a gateway-held key is sent in (`authorization` gets `Bearer `). */
  keyHeader: 'authorization' | 'x-api-key' | 'api-key';
  /** The upstream path for a client path (already checked), given the provider's base path. */
  path(
    base: string,
    clientPath: string,
    search: string,
    provider: Provider,
    model: string | undefined,
  ): string;
}

/** base_url is what OPENAI_BASE_URL would be: if it already ends in /v1, the client's /v1 is not repeated. */
const openAiStyle: ProviderKind['path'] = (base, path, search) =>
  `${base}${base.endsWith('/v1') ? path.slice(3) : path}${search}`;

const PROVIDER_KINDS: Record<Provider['kind'], ProviderKind> = {
  openai: { family: 'openai', keyHeader: 'authorization', path: openAiStyle },
  openai_compatible: { family: 'openai', keyHeader: 'authorization', path: openAiStyle },
  // Google's OpenAI-compatible endpoint lives under /v1beta/openai: the client's /v1 is replaced by it.
  gemini: {
    family: 'openai',
    keyHeader: 'authorization',
    path: (base, path, search) => `${base}${path.slice(3)}${search}`,
  },
  anthropic: {
    family: 'anthropic',
    keyHeader: 'x-api-key',
    path: (base, path, search) => `${base}${path}${search}`,
  },
  ollama: {
    family: 'ollama',
    keyHeader: 'authorization',
    path: (base, path, search) => `${base}${path}${search}`,
  },
  azure: { family: 'openai', keyHeader: 'api-key', path: azurePath },
};

function azurePath(
  base: string,
  path: string,
  search: string,
  provider: Provider,
  model: string | undefined,
) {
  const version = provider.api_version ?? '2024-10-21';
  const deployment = (model && provider.deployments?.[model]) ?? model;
  const rest = path.replace(/^\/v1/, '');
  if (!deployment || rest === '/models')
    return `${base}/openai${rest}?api-version=${encodeURIComponent(version)}`;
  if (!/^[A-Za-z0-9._-]+$/.test(deployment))
    throw new UnsafePathError('model name cannot be an Azure deployment');
  const query = new URLSearchParams(search);
  query.set('api-version', version);
  return `${base}/openai/deployments/${deployment}${rest}?${query}`;
}

export function familyOf(provider: Provider): ApiFamily {
  return PROVIDER_KINDS[provider.kind].family;
}

export function keyHeaderOf(provider: Provider): ProviderKind['keyHeader'] {
  return PROVIDER_KINDS[provider.kind].keyHeader;
}

interface Resolved {
  provider: Provider;
  origin: string;
  /** The base URL's path without a trailing slash. */
  base: string;
}

/** Resolves the provider for an agent and API family, then the exact upstream target for the request path. */
export class ProviderRegistry {
  private providers = new Map<string, Resolved>();
  private routes = new Map<string, Route>();

  constructor(private readonly defaults: Record<ApiFamily, string>) {}

  setProviders(list: readonly Provider[]): void {
    this.providers = new Map(
      list.map((provider) => {
        const url = new URL(provider.base_url);
        return [provider.name, { provider, origin: url.origin, base: url.pathname.replace(/\/+$/, '') }];
      }),
    );
  }

  setRoutes(list: readonly Route[]): void {
    this.routes = new Map(list.map((r) => [r.agent_id, r]));
  }

  listProviders(): Provider[] {
    return [...this.providers.values()].map((r) => r.provider);
  }

  listRoutes(): Route[] {
    return [...this.routes.values()];
  }

  has(name: string): boolean {
    return this.providers.has(name);
  }

  /** The provider for this agent's traffic of one family, if one that speaks the family is registered. */
  providerFor(agentId: string, family: ApiFamily): Provider | undefined {
    const name =
      this.routes.get(agentId)?.[family] ?? this.routes.get('*')?.[family] ?? this.defaults[family];
    const resolved = this.providers.get(name);
    return resolved && familyOf(resolved.provider) === family ? resolved.provider : undefined;
  }

  /**
   * `path` is the canonical client path (already checked by assertSafePath), `search` its query string, `model`
   * the model the request will use (Azure maps it to a deployment). The origin is the provider's own and the
   * path cannot carry another: the upstream host is never the client's to choose.
   */
  target(provider: Provider, path: string, search: string, model: string | undefined): UpstreamTarget {
    const resolved = this.providers.get(provider.name);
    if (!resolved) throw new UnsafePathError(`provider '${provider.name}' is not registered`);
    const upstreamPath = PROVIDER_KINDS[provider.kind].path(resolved.base, path, search, provider, model);
    return { provider, origin: resolved.origin, path: upstreamPath };
  }
}
