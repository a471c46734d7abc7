import { Agent, request } from 'node:http';
import { agentHeaders, chatBody, type Target } from './load.js';
import { type Percentiles, percentiles } from './stats.js';

export interface TtfbResult {
  requests: number;
  failed: number;
  /** Status codes of failed requests with a count, and the first failure's body. */
  failures: Record<string, number>;
  firstFailure: string | undefined;
  /** Request start until the response headers, ms. */
  headers: Percentiles;
  /** Request start until the first body byte (the first SSE event), ms. */
  firstByte: Percentiles;
  /** Request start until the end of the stream, ms. */
  total: Percentiles;
}

interface Timing {
  status: number;
  headers: number;
  firstByte: number;
  total: number;
  body: string;
}

function once(agent: Agent, target: Target, n: number): Promise<Timing> {
  const url = new URL('/v1/chat/completions', target.url);
  const body = chatBody(true, `ttfb-${n}-${Date.now()}`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...agentHeaders((n % 50) + 1, target), 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const headers = performance.now() - started;
        let firstByte = Number.NaN;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if (Number.isNaN(firstByte)) firstByte = performance.now() - started;
          if (text.length < 2000) text += chunk.toString('utf8');
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers,
            firstByte,
            total: performance.now() - started,
            body: text,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Time to first byte of a streamed chat completion: sequential requests over one kept-alive connection, so
 * nothing queues and the figure is the path's own latency. A response counts when it is a 200 whose body
 * carries SSE `data:` events; anything else is reported as a failure with its status.
 */
export async function measureTtfb(target: Target, count: number, warmup: number): Promise<TtfbResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const heads: number[] = [];
  const firsts: number[] = [];
  const totals: number[] = [];
  const failures: Record<string, number> = {};
  let firstFailure: string | undefined;
  try {
    for (let n = 0; n < warmup + count; n++) {
      let timing: Timing;
      try {
        timing = await once(agent, target, n);
      } catch (error) {
        timing = { status: 0, headers: 0, firstByte: 0, total: 0, body: String(error) };
      }
      if (n < warmup) continue;
      if (timing.status !== 200 || !timing.body.includes('data: ') || Number.isNaN(timing.firstByte)) {
        failures[timing.status] = (failures[timing.status] ?? 0) + 1;
        firstFailure ??= `${timing.status} ${timing.body.slice(0, 300)}`;
        continue;
      }
      heads.push(timing.headers);
      firsts.push(timing.firstByte);
      totals.push(timing.total);
    }
  } finally {
    agent.destroy();
  }
  return {
    requests: count,
    failed: count - firsts.length,
    failures,
    firstFailure,
    headers: percentiles(heads),
    firstByte: percentiles(firsts),
    total: percentiles(totals),
  };
}
