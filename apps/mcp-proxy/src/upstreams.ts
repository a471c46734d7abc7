import type { McpProxyConfig, McpUpstream } from './config.js';

interface Mounted {
  upstream: McpUpstream;
  /** `http://host:port`, no trailing slash. */
  origin: string;
  /** The upstream URL's own path without a trailing slash ('' for the root). */
  basePath: string;
}

export interface UpstreamTarget {
  upstream: McpUpstream;
  /** The absolute URL to forward to, query included. */
  url: string;
}

/** A path the proxy refuses to map: dot segments (plain or percent-encoded) could climb out of a mount. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** The MCP servers behind the proxy, matched by path prefix (longest first, whole segments only). */
export class UpstreamTable {
  private readonly mounts: Mounted[];

  constructor(upstreams: readonly McpUpstream[]) {
    const names = new Set<string>();
    const prefixes = new Set<string>();
    for (const upstream of upstreams) {
      if (names.has(upstream.name)) throw new Error(`MCP upstream name ${upstream.name} is used twice`);
      if (prefixes.has(upstream.prefix))
        throw new Error(`MCP upstream prefix ${upstream.prefix} is used twice`);
      names.add(upstream.name);
      prefixes.add(upstream.prefix);
    }
    this.mounts = upstreams
      .map((upstream) => {
        const url = new URL(upstream.url);
        return { upstream, origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
      })
      .sort((a, b) => b.upstream.prefix.length - a.upstream.prefix.length);
  }

  static fromConfig(config: McpProxyConfig): UpstreamTable {
    const single: McpUpstream[] =
      config.MCP_UPSTREAM_URL === undefined
        ? []
        : [{ name: config.MCP_UPSTREAM_NAME, prefix: '/', url: config.MCP_UPSTREAM_URL }];
    return new UpstreamTable([...single, ...config.MCP_UPSTREAMS]);
  }

  get size(): number {
    return this.mounts.length;
  }

  list(): McpUpstream[] {
    return this.mounts.map((m) => m.upstream);
  }

  /** Where a request URL (path and query, as received) goes; undefined when no server is mounted there. */
  resolve(rawUrl: string): UpstreamTarget | undefined {
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q);
    if (DOT_SEGMENT.test(path)) return undefined;
    for (const mount of this.mounts) {
      const rest = restOf(path, mount.upstream.prefix);
      if (rest === undefined) continue;
      const upstreamPath = `${mount.basePath}${rest}` || '/';
      return { upstream: mount.upstream, url: `${mount.origin}${upstreamPath}${query}` };
    }
    return undefined;
  }

  /**
   * The proxy's own form of an `endpoint` event's URI (2024-11-05 HTTP+SSE), so the client posts its messages
   * back through the proxy: a path gets the mount prefix (in place of the upstream's base path), an absolute
   * URL becomes one on `proxyOrigin`, anything else (a relative reference) is left as it is.
   */
  endpointForClient(upstream: McpUpstream, endpoint: string, proxyOrigin: string): string {
    const mount = this.mounts.find((m) => m.upstream === upstream);
    if (mount === undefined) return endpoint;
    if (/^https?:\/\//i.test(endpoint)) {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        return endpoint;
      }
      return `${proxyOrigin}${this.mountPath(mount, `${url.pathname}${url.search}`)}`;
    }
    if (endpoint.startsWith('/') && !endpoint.startsWith('//')) return this.mountPath(mount, endpoint);
    return endpoint;
  }

  private mountPath(mount: Mounted, upstreamPathAndQuery: string): string {
    let rest = upstreamPathAndQuery;
    if (
      mount.basePath !== '' &&
      (rest === mount.basePath ||
        rest.startsWith(`${mount.basePath}/`) ||
        rest.startsWith(`${mount.basePath}?`))
    )
      rest = rest.slice(mount.basePath.length);
    const prefix = mount.upstream.prefix === '/' ? '' : mount.upstream.prefix;
    if (rest === '' || rest.startsWith('?')) rest = `/${rest}`;
    return `${prefix}${rest}`;
  }
}

function restOf(path: string, prefix: string): string | undefined {
  if (prefix === '/') return path;
  if (path === prefix) return '';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
}
