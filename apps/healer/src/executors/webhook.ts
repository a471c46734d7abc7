import { createHmac } from 'node:crypto';
import type { HealingActionType } from '@immune/core';
import type { ActionRequest, ActionResult, HealingExecutor } from './types.js';

const WEBHOOK_ACTIONS: ReadonlySet<HealingActionType> = new Set([
  'reset_memory',
  'rollback_prompt',
  'restart',
]);

export const SIGNATURE_HEADER = 'x-immune-signature';
export const TIMESTAMP_HEADER = 'x-immune-timestamp';

export interface WebhookExecutorOptions {
  /** HMAC key. Kept in this closure only: never logged, never stored. */
  secret: string | undefined;
  timeoutMs: number;
  retries: number;
  /** First backoff between retries, ms; doubles each time. */
  backoffMs?: number;
  now?: () => number;
}

/**
 * The signature an agent checks: HMAC-SHA256 over `<timestamp>.<body>` with the shared secret, hex, sent as
 * `x-immune-signature: sha256=<hex>` with the timestamp in `x-immune-timestamp`. Binding the timestamp lets
 * the agent refuse replays of an old call.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Agent-side cures (reset memory, roll back the prompt, restart) through the control URL the agent
 * registered. One POST per attempt, signed, with the attempt id as `idempotency-key` so an agent can ignore a
 * repeat. Network errors, timeouts and 5xx are retried with backoff; 4xx are final (the agent refused).
 */
export function createWebhookExecutor(options: WebhookExecutorOptions): HealingExecutor {
  const now = options.now ?? Date.now;
  const backoffMs = options.backoffMs ?? 250;
  return {
    name: 'webhook',
    supports: (action, agent) =>
      WEBHOOK_ACTIONS.has(action) && agent.control_url !== null && options.secret !== undefined,
    async apply(request: ActionRequest): Promise<ActionResult> {
      const url = request.agent.control_url;
      if (url === null)
        return { ok: false, unavailable: true, detail: 'the agent registered no control URL' };
      if (options.secret === undefined)
        return { ok: false, unavailable: true, detail: 'HEALER_WEBHOOK_SECRET is not set' };
      const body = JSON.stringify({
        action: request.action,
        agent_id: request.agent.agent_id,
        infection_id: request.infectionId,
        attempt_id: request.attemptId,
        diagnosis: request.diagnosis,
      });
      let last = '';
      for (let attempt = 0; attempt <= options.retries; attempt++) {
        if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1), request.signal);
        const timestamp = now();
        try {
          const signals = [AbortSignal.timeout(options.timeoutMs)];
          if (request.signal) signals.push(request.signal);
          const response = await fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'idempotency-key': request.attemptId,
              [TIMESTAMP_HEADER]: String(timestamp),
              [SIGNATURE_HEADER]: signWebhook(options.secret, timestamp, body),
            },
            body,
            signal: AbortSignal.any(signals),
            redirect: 'error',
          });
          const text = (await response.text()).slice(0, 200);
          if (response.ok)
            return { ok: true, detail: `webhook ${response.status}${text ? `: ${text}` : ''}` };
          last = `webhook answered ${response.status}${text ? `: ${text}` : ''}`;
          if (response.status < 500) return { ok: false, detail: last };
        } catch (error) {
          if (request.signal?.aborted) return { ok: false, detail: 'webhook call aborted' };
          last = `webhook call failed: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`;
        }
      }
      return { ok: false, detail: `${last} (after ${options.retries + 1} tries)` };
    },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
