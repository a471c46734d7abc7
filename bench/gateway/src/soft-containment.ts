import { AGENTS, agentHeaders, chatBody, type Target } from './load.js';
import { connectNats, openKv } from './nats-client.js';
import { sleep } from './stats.js';

/** Below the benchmark request's `max_tokens` (200), so every contained call has its body rewritten. */
export const CONTAINED_MAX_TOKENS = 100;
const PROBE = 'bench-probe';

/**
 * The soft-containment step: every benchmark agent is written into the quarantine bucket as the sentinel
 * writes a soft containment (SUSPECTED, `containment: 'soft'`), so each call is served through the throttle and
 * the clamp, and its body is rewritten with the lower `max_tokens`. The throttle is set far above the load's
 * rate: the step measures a contained agent's served calls, not refusals.
 *
 * The gateway applies the bucket through its watch, asynchronously; a probe agent written last with a throttle
 * of one call per minute shows when it has: its second call is refused, so everything written before it is in
 * force. Returns the release, which deletes the entries and waits, the same way, until the probe is served again.
 */
export async function softlyContain(options: {
  repo: string;
  natsUrl: string;
  prefix: string;
  gateway: Target;
}): Promise<() => Promise<void>> {
  const nc = await connectNats(options.repo, options.natsUrl);
  try {
    const kv = await openKv(options.repo, nc, `${options.prefix}_quarantine`);
    const entry = (agentId: string, callsPerMinute: number) =>
      JSON.stringify({
        agent_id: agentId,
        state: 'SUSPECTED',
        reason: 'benchmark: soft containment step',
        since: Date.now(),
        containment: 'soft',
        max_tokens: CONTAINED_MAX_TOKENS,
        calls_per_minute: callsPerMinute,
        by: 'sentinel',
      });
    for (let i = 1; i <= AGENTS; i++) await kv.put(`bench-agent-${i}`, entry(`bench-agent-${i}`, 1_000_000));
    await kv.put(PROBE, entry(PROBE, 1));
  } finally {
    await nc.close();
  }
  await until(options.gateway, (status) => status === 429, 'the soft containment to be applied');
  return async () => {
    const nc = await connectNats(options.repo, options.natsUrl);
    try {
      const kv = await openKv(options.repo, nc, `${options.prefix}_quarantine`);
      for (let i = 1; i <= AGENTS; i++) await kv.delete(`bench-agent-${i}`);
      await kv.delete(PROBE);
    } finally {
      await nc.close();
    }
    await until(options.gateway, (status) => status === 200, 'the soft containment to be lifted');
  };
}

/** Sends the probe agent's call until its status is what the gateway answers once the bucket is applied. */
async function until(gateway: Target, done: (status: number) => boolean, what: string): Promise<void> {
  const headers = { ...agentHeaders(1, gateway), 'x-immune-agent': PROBE };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: chatBody(false, 'probe'),
    });
    await response.arrayBuffer();
    if (done(response.status)) return;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what} (last status ${response.status})`);
    await sleep(100);
  }
}
