import fc from 'fast-check';
import type { HttpLimits } from '../http/server-limits.js';
import { type AbuseReport, runAbuse } from './abuse.js';
import { answerProblems, type HostileBody, hostileBodies } from './hostile-bodies.js';

/**
 * The routes the runtime serves on every service (`registerRuntimeRoutes`). Services whose only HTTP surface is
 * this one (the sentinel, the healer) fuzz it with `fuzzOperationalSurface`; services with an API of their own
 * fuzz that API too, in their own suites.
 */
export const OPERATIONAL_ROUTES = ['/healthz', '/readyz', '/metrics'] as const;

/** One fuzzed request to a service's operational surface. */
export interface OperationalRequest {
  method: string;
  /** Path and query string, already percent-encoded where needed. */
  target: string;
  headers: Record<string, string>;
  /** Sent for methods that carry one (fetch forbids a body on GET and HEAD). */
  body: HostileBody | undefined;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const pathChar = fc.constantFrom(
  ..."abcxyz019-._~!$&'()*+,;=:@%/".split(''),
  '%2e',
  '%2F',
  '%00',
  '%ff',
  '..',
);
const segment = fc.array(pathChar, { maxLength: 12 }).map((chars) => chars.join(''));
const printable = fc.string({ maxLength: 40 }).filter((value) => /^[\x20-\x7e]*$/.test(value));

/** Requests around the operational routes: their own paths with suffixes and queries, other paths, odd methods. */
export const operationalRequests: fc.Arbitrary<OperationalRequest> = fc
  .record({
    method: fc.constantFrom(...METHODS),
    path: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...OPERATIONAL_ROUTES) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.constantFrom(...OPERATIONAL_ROUTES),
            fc.constantFrom('/', '//', '/x', '.json', '/..', '%20'),
          )
          .map(([route, suffix]) => `${route}${suffix}`),
      },
      { weight: 3, arbitrary: fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`) },
    ),
    query: fc.option(
      fc.oneof(
        fc
          .array(fc.tuple(segment, segment), { maxLength: 5 })
          .map((pairs) =>
            pairs.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&'),
          ),
        fc.constantFrom('format=json', 'name[]=1&name[]=2', '__proto__[x]=1', 'a=%ZZ', '&&&=', 'verbose'),
      ),
      { nil: undefined },
    ),
    accept: fc.option(
      fc.oneof(
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/openmetrics-text; version=1.0.0',
          '*/*',
        ),
        printable,
      ),
      { nil: undefined },
    ),
    extra: fc.option(fc.tuple(fc.constantFrom('x-fuzz', 'origin', 'authorization', 'cookie'), printable), {
      nil: undefined,
    }),
    body: fc.option(hostileBodies({ probe: true }), { nil: undefined }),
  })
  .map(({ method, path, query, accept, extra, body }) => ({
    method,
    target: query === undefined ? path : `${path}?${query}`,
    headers: {
      ...(accept === undefined ? {} : { accept }),
      ...(extra === undefined ? {} : { [extra[0]]: extra[1] }),
      ...(body?.contentType === undefined || method === 'GET' || method === 'HEAD'
        ? {}
        : { 'content-type': body.contentType }),
    },
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
  }));

/**
 * Fuzzes a service's operational surface over HTTP: every answer is below 500, every refusal JSON naming the
 * problem, and `/healthz` still answers 200 afterwards. Returns how many requests were made.
 */
export async function fuzzOperationalSurface(
  baseUrl: string,
  options: { runs: number; seed: number },
): Promise<number> {
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(operationalRequests, async (request) => {
      const response = await fetch(`${baseUrl}${request.target}`, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: Buffer.from(request.body.payload) }),
      });
      const text = await response.text();
      requests++;
      const problems = answerProblems(response.status, response.headers.get('content-type'), text);
      // HEAD answers carry no body: only the status can be judged.
      const judged =
        request.method === 'HEAD' ? problems.filter((p) => p.startsWith('answered 5')) : problems;
      if (judged.length > 0)
        throw new Error(
          `${request.method} ${request.target} (${request.body?.kind ?? 'no body'}): ${judged}`,
        );
    }),
    { numRuns: options.runs, seed: options.seed },
  );
  const health = await fetch(`${baseUrl}/healthz`);
  await health.arrayBuffer();
  if (health.status !== 200) throw new Error(`after fuzzing, /healthz answered ${health.status}`);
  return requests;
}

/** Small HTTP limits for these suites (as env values), so the abuse cases reach them quickly. */
export const OPERATIONAL_FUZZ_LIMITS = {
  HTTP_MAX_HEADER_BYTES: '8192',
  HTTP_MAX_CONNECTIONS: '1000',
  HTTP_HEADERS_TIMEOUT_MS: '2000',
  HTTP_REQUEST_TIMEOUT_MS: '3000',
  BODY_LIMIT_BYTES: '65536',
} as const;

/** What a load balancer keeps asking during the abuse: `/readyz` must answer 200. */
export async function probeReady(baseUrl: string): Promise<void> {
  const response = await fetch(`${baseUrl}/readyz`);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`probe: /readyz answered ${response.status}`);
}

/**
 * The raw-socket abuse cases of `runAbuse` against one operational route, with 200 idle connections held, while
 * readiness keeps being probed. Throws on a case the service mishandled.
 */
export function abuseOperationalRoute(
  baseUrl: string,
  route: { method: 'GET' | 'POST'; path: (typeof OPERATIONAL_ROUTES)[number] },
  limits: HttpLimits,
): Promise<AbuseReport> {
  const post = route.method === 'POST';
  return runAbuse(
    {
      host: '127.0.0.1',
      port: Number(new URL(baseUrl).port),
      method: route.method,
      path: route.path,
      headers: post ? { 'content-type': 'application/json' } : {},
      body: post ? '{"probe":true}' : '',
      maxHeaderBytes: limits.maxHeaderBytes,
      headersTimeoutMs: limits.timeouts.headersTimeoutMs,
      idleConnections: 200,
    },
    () => probeReady(baseUrl),
  );
}
