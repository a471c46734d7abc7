const LOOPBACK_BINDS = new Set(['127.0.0.1', '::1', 'localhost']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface OriginGuardOptions {
  /** Interface the proxy listens on. */
  bindHost: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

/**
 * DNS-rebinding protection done by the proxy itself, since it is what a browser reaches: an `Origin` must be
 * listed or be the proxy's own; the `Host` must be listed (or, on a loopback bind with no list, a loopback
 * name). Requests without `Origin` (every non-browser MCP client) pass the origin check.
 */
export class OriginGuard {
  private readonly hosts: Set<string> | undefined;
  private readonly origins: Set<string>;

  constructor(options: OriginGuardOptions) {
    const hosts =
      options.allowedHosts.length > 0
        ? options.allowedHosts
        : LOOPBACK_BINDS.has(options.bindHost)
          ? LOOPBACK_NAMES
          : undefined;
    this.hosts = hosts === undefined ? undefined : new Set(hosts.map((h) => h.toLowerCase()));
    this.origins = new Set(options.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  }

  /** The reason to refuse, or undefined. */
  check(host: string | undefined, origin: string | undefined, protocol: string): string | undefined {
    const hostValue = (host ?? '').toLowerCase();
    if (this.hosts !== undefined && !this.hosts.has(hostValue) && !this.hosts.has(hostName(hostValue)))
      return `host ${host ?? '(none)'} is not allowed`;
    if (origin === undefined) return undefined;
    const normalized = origin.toLowerCase().replace(/\/+$/, '');
    if (this.origins.has(normalized)) return undefined;
    if (normalized === `${protocol}://${hostValue}`) return undefined;
    return `origin ${origin} is not allowed`;
  }
}

function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
