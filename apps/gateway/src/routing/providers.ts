import type { Provider, Route } from '@immune/bus';

export type { Provider, Route } from '@immune/bus';

export type ApiFamily = 'openai' | 'anthropic';

export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
}

/**
 * Only plain `/v1/...` paths are proxied: no dot segments, no empty segments, no encoded separators, no
 * backslashes or authority tricks. Anything else is refused before routing.
 */
export function assertSafePath(path: string): void {
  if (!path.startsWith('/v1/') && path !== '/v1') throw new UnsafePathError('only /v1/ paths are proxied');
  if (/%2f|%5c|%2e|%00|\\|@/i.test(path))
    throw new UnsafePathError('encoded separators are not allowed in the path');
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    throw new UnsafePathError('path has empty or dot segments');
}

export interface UpstreamTarget {
  provider: Provider;
  /** Absolute URL, always on the provider's own origin. */
  url: string;
}

/** Resolves the provider for an agent and API family, then the exact upstream URL for the request path. */
export class ProviderRegistry {
  private providers = new Map<string, Provider>();
  private routes = new Map<string, Route>();

  constructor(private readonly defaults: Record<ApiFamily, string>) {}

  setProviders(list: readonly Provider[]): void {
    this.providers = new Map(list.map((p) => [p.name, p]));
  }

  setRoutes(list: readonly Route[]): void {
    this.routes = new Map(list.map((r) => [r.agent_id, r]));
  }

  listProviders(): Provider[] {
    return [...this.providers.values()];
  }

  listRoutes(): Route[] {
    return [...this.routes.values()];
  }

  providerFor(agentId: string, family: ApiFamily): Provider | undefined {
    const name =
      this.routes.get(agentId)?.[family] ?? this.routes.get('*')?.[family] ?? this.defaults[family];
    return this.providers.get(name);
  }

  /**
   * `path` is the client's path (already checked by assertSafePath), `search` its query string, `model` the
   * model the request will use (Azure maps it to a deployment).
   */
  target(provider: Provider, path: string, search: string, model: string | undefined): UpstreamTarget {
    const base = provider.base_url.replace(/\/+$/, '');
    if (provider.kind === 'azure') {
      const deployment = (model && provider.deployments?.[model]) ?? model;
      const rest = path.replace(/^\/v1/, '');
      if (!deployment || rest === '/models') {
        return {
          provider,
          url: `${base}/openai${rest}?api-version=${encodeURIComponent(provider.api_version ?? '2024-10-21')}`,
        };
      }
      if (!/^[A-Za-z0-9._-]+$/.test(deployment))
        throw new UnsafePathError('model name cannot be an Azure deployment');
      const query = new URLSearchParams(search);
      query.set('api-version', provider.api_version ?? '2024-10-21');
      return { provider, url: `${base}/openai/deployments/${deployment}${rest}?${query}` };
    }
    // base_url is what OPENAI_BASE_URL would be: if it already ends in /v1, the client's /v1 is not repeated.
    const suffix = base.endsWith('/v1') ? path.slice(3) : path;
    const url = new URL(`${base}${suffix}${search}`);
    const origin = new URL(base).origin;
    if (url.origin !== origin) throw new UnsafePathError('path would leave the provider origin');
    return { provider, url: url.toString() };
  }
}
