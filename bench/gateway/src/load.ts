import autocannon from 'autocannon';
import { type Percentiles, percentiles, round1 } from './stats.js';

/** One target as the load generator sees it: where to send, and the extra headers it needs. */
export interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
}

export const AGENTS = 50;

/**
 * A small, realistic chat completion. `[<id>]` is replaced by autocannon with a unique id per request, so no two
 * bodies are equal: a gateway that hashes or remembers requests (retry detection) sees realistic traffic, not
 * 50 bodies repeated a million times.
 */
export function chatBody(stream: boolean, id = '[<id>]'): string {
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      {
        role: 'system',
        content:
          'You are a support triage assistant. Classify the ticket, give a one-line summary and suggest the team.',
      },
      {
        role: 'user',
        content: `Ticket ${id}: the export to CSV times out for our workspace since this morning; about 40k rows.`,
      },
    ],
    temperature: 0.2,
    max_tokens: 200,
    ...(stream ? { stream: true } : {}),
  });
}

export function agentHeaders(agent: number, target: Target): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: 'Bearer sk-bench',
    'x-immune-agent': `bench-agent-${agent}`,
    ...target.headers,
  };
}

/** `paced`: every connection's one-second window is phase-shifted (see `pace`); `stock`: autocannon as is. */
export type RateMode = 'paced' | 'stock';

export interface LoadOptions {
  target: Target;
  connections: number;
  durationS: number;
  /** Requests per second over all connections; undefined = as fast as possible. */
  rate?: number | undefined;
  mode?: RateMode;
  /** Streamed chat completions (`stream: true`) instead of plain ones. */
  stream?: boolean;
}

export interface LoadResult {
  durationS: number;
  /** Responses received, any status. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts (autocannon's `errors`, which include `timeouts`). */
  errors: number;
  timeouts: number;
  /** 2xx responses per second over the run's actual duration. */
  okRps: number;
  /** Latency of 2xx responses, ms, from each response's own timing (microsecond resolution). */
  latency: Percentiles;
  /** autocannon's own histogram: 1 ms resolution, coordinated-omission correction when rate-limited. */
  autocannonLatency: { p50: number; p99: number };
  statusCodes: Record<string, number>;
}

/**
 * Internals of autocannon 9's HTTP client that `pace` rewires. Pinned version: these are not public API.
 */
interface ClientInternals {
  rateInterval: NodeJS.Timeout | undefined;
  reqsMadeThisSecond: number;
  paused: boolean;
  destroyed: boolean;
  _doRequest(): void;
}

/**
 * autocannon's rate limit gives each connection a quota per one-second window, and all windows open at the same
 * instant: with 100 connections, every second starts with 100 simultaneous requests that are then sent back to
 * back until the quota is used, followed by silence. That measures queueing in a burst, not latency at a rate.
 * `pace` shifts connection i's window by i/connections of a second, so the load arrives spread over the second
 * (at 2,000 req/s and 100 connections: 20 back-to-back requests per connection, one connection starting every
 * 10 ms).
 */
function pace(connections: number): (client: autocannon.Client) => void {
  let index = 0;
  return (client) => {
    const c = client as unknown as ClientInternals;
    const offsetMs = Math.floor((index++ * 1000) / connections);
    // Called inside the client's constructor, before it sends its first request and arms its window timer:
    // an exhausted quota makes that first request wait.
    c.reqsMadeThisSecond = Number.POSITIVE_INFINITY;
    setImmediate(() => {
      if (c.destroyed) return;
      clearInterval(c.rateInterval);
      const open = () => {
        if (c.destroyed) return;
        c.reqsMadeThisSecond = 0;
        if (c.paused) {
          c.paused = false;
          c._doRequest();
        }
      };
      // Stored where autocannon's destroy() clears it (clearInterval also clears a timeout).
      c.rateInterval = setTimeout(() => {
        open();
        if (!c.destroyed) c.rateInterval = setInterval(open, 1000);
      }, offsetMs);
    });
  };
}

/** Runs autocannon once against a target and measures every 2xx response's latency itself. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { target, connections, durationS, rate } = options;
  const requests = Array.from({ length: AGENTS }, (_, i) => ({
    method: 'POST' as const,
    path: '/v1/chat/completions',
    headers: agentHeaders(i + 1, target),
    body: chatBody(options.stream === true),
  }));
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let responses = 0;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon(
      {
        url: target.url,
        connections,
        duration: durationS,
        requests,
        idReplacement: true,
        timeout: 10,
        // autocannon stops at the first sample tick after the duration; a short interval makes that prompt.
        sampleInt: 100,
        ...(rate !== undefined ? { overallRate: rate } : {}),
        ...(rate !== undefined && options.mode === 'paced' ? { setupClient: pace(connections) } : {}),
      },
      (error: unknown, result: autocannon.Result) => {
        if (error) {
          reject(error);
          return;
        }
        const measuredS = (performance.now() - started) / 1000;
        const ok = latencies.length;
        resolve({
          durationS: round1(measuredS),
          responses,
          ok,
          non2xx: responses - ok,
          errors: result.errors,
          timeouts: result.timeouts,
          okRps: round1(ok / measuredS),
          latency: percentiles(latencies),
          autocannonLatency: { p50: result.latency.p50, p99: result.latency.p99 },
          statusCodes,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++;
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}
