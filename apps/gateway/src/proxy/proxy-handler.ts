import { randomUUID } from 'node:crypto';
import type { Bus, QuarantineEntry, VitalPublisher } from '@immune/bus';
import {
  apiKeyOf,
  type IdentityOptions,
  identifyAgent,
  keyFingerprint,
  type Pricing,
  promptHashOf,
  systemPromptOf,
  type Vital,
} from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Dispatcher, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { OpenCall, QuarantineView } from '../enforcement/quarantine-view.js';
import { MessagesStreamTap, observeMessage } from '../extract/anthropic.js';
import { requestHashOf } from '../extract/fingerprint.js';
import { type CallObservation, emptyObservation, isRecord } from '../extract/observation.js';
import { ChatStreamTap, observeChatCompletion } from '../extract/openai-chat.js';
import { observeResponse, ResponsesStreamTap } from '../extract/openai-responses.js';
import type { RetryTracker } from '../extract/retry-tracker.js';
import type { SseEvent } from '../extract/sse.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import { assertSafePath, type ProviderRegistry, UnsafePathError } from '../routing/providers.js';
import type { AgentDirectory } from '../state/agent-directory.js';
import { canonicalPath, type Endpoint, endpointOf } from './endpoints.js';
import { clientHeaders, upstreamHeaders } from './forward-headers.js';
import { providerError, providerStreamError } from './provider-errors.js';
import { type EventDecision, type PumpResult, pumpBody, pumpSse } from './response-pump.js';
import { rewriteRequest } from './rewrite.js';

export interface ProxyMetrics {
  /** One per request, whatever its outcome (`ok`, an error type, or the refusal's code). */
  request(outcome: string): void;
  vitalDropped(count: number): void;
}

export interface ProxyDeps {
  registry: ProviderRegistry;
  policies: PolicyEngine;
  quarantine: QuarantineView;
  directory: AgentDirectory;
  publisher: VitalPublisher;
  retries: RetryTracker;
  pricing: Pricing;
  identity: IdentityOptions;
  dispatcher: Dispatcher;
  bus: Bus;
  logger: Logger;
  metrics: ProxyMetrics;
  env: Readonly<Record<string, string | undefined>>;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** Non-streamed bodies up to this size are parsed for usage; bigger ones are forwarded without it. */
const INSPECT_LIMIT = 16 * 1024 * 1024;

/**
 * One proxied call: identify the agent, refuse it if quarantined, apply policy, route to a registered
 * provider, forward the answer as it arrives (streams event by event), and publish one vital at the end.
 *
 * Every call that was sent (or tried to be sent) upstream leaves exactly one vital, whatever its end: an
 * answer, a provider error, an unreachable or silent provider, a client that hung up, a quarantine that cut
 * it. Requests the gateway refuses itself (quarantine, policy, a bad path) never reach a provider and leave
 * no vital, only a count in `gateway_requests`: a throttled agent's refused calls must not read as an error
 * spike against its own cure.
 */
export function createProxyHandler(deps: ProxyDeps) {
  return async function proxy(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const rawUrl = request.raw.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = canonicalPath(q === -1 ? rawUrl : rawUrl.slice(0, q));
    const search = q === -1 ? '' : rawUrl.slice(q);
    const endpoint = endpointOf(path, request.headers);
    const answer = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      void reply
        .code(status)
        .headers({ 'content-type': 'application/json', ...headers })
        .send(providerError(endpoint.family, status, code, message));
    };
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      deps.metrics.request(code);
      answer(status, code, message, headers);
    };

    try {
      assertSafePath(path);
    } catch (error) {
      if (error instanceof UnsafePathError)
        return refuse(400, 'invalid_path', `path refused by the gateway: ${error.message}`);
      throw error;
    }

    const who = identifyAgent(request.headers, request.ip, deps.identity);
    if ('error' in who) return refuse(400, 'agent_identity', who.error);
    const { agentId } = who;
    if (deps.directory.touch(agentId, who.identity, Date.now())) announce(deps, agentId, who.identity);

    // From admission on, a quarantine written while this call is in flight ends it (`kill`), whether it
    // still waits for the provider's headers or streams; `release` in the finally below undoes admission.
    const abort = new AbortController();
    let killedBy: QuarantineEntry | undefined;
    const call: OpenCall = {
      kill(entry) {
        killedBy = entry;
        abort.abort();
      },
    };
    const quarantined = deps.quarantine.admit(agentId, call);
    if (quarantined) {
      return refuse(
        403,
        'agent_quarantined',
        quarantineMessage(agentId, quarantined),
        quarantineHeaders(quarantined),
      );
    }
    const res = reply.raw;
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    let upstreamBody: Dispatcher.ResponseData['body'] | undefined;
    // Set once the call is sent upstream: records its one vital (the guard makes a second call a no-op).
    let finish:
      | ((obs: CallObservation, status: number, errorType: string | undefined, ttftAt?: number) => void)
      | undefined;
    let model: string | undefined;
    try {
      const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
      const json = parseJson(raw, request.headers['content-type']);
      const requestedModel = typeof json?.model === 'string' ? json.model : undefined;
      const apiKey = apiKeyOf(request.headers);
      const decision = deps.policies.decide({
        agentId,
        keyFingerprint: apiKey === undefined ? undefined : keyFingerprint(apiKey),
        model: requestedModel,
        tools: toolNames(json),
      });
      if (!decision.allow) {
        return refuse(
          decision.status,
          decision.code,
          decision.message,
          decision.retryAfterSeconds ? { 'retry-after': String(decision.retryAfterSeconds) } : {},
        );
      }

      const rewrite = json
        ? rewriteRequest(endpoint.kind, json, decision.mutations)
        : { body: undefined, hideUsage: false };
      const sendBody = rewrite.body ? Buffer.from(JSON.stringify(rewrite.body)) : raw;
      model = typeof rewrite.body?.model === 'string' ? rewrite.body.model : requestedModel;
      const provider = deps.registry.providerFor(agentId, endpoint.family);
      if (!provider)
        return refuse(502, 'no_provider', `no provider is registered for ${endpoint.family} traffic`);
      let target: { url: string };
      try {
        target = deps.registry.target(provider, path, search, model);
      } catch (error) {
        if (error instanceof UnsafePathError) return refuse(400, 'invalid_path', error.message);
        throw error;
      }

      const requestHash = endpoint.vital && raw ? requestHashOf(agentId, path, raw) : undefined;
      const retries = requestHash === undefined ? 0 : deps.retries.observe(requestHash, Date.now());
      let streamed = false;
      let finished = false;
      finish = (obs, status, errorType, ttftAt) => {
        if (finished) return;
        finished = true;
        deps.metrics.request(status < 400 && !errorType ? 'ok' : (errorType ?? `http_${status}`));
        if (!endpoint.vital) return;
        const input = obs.input_tokens;
        const output = obs.output_tokens;
        const systemPrompt = systemPromptOf(endpoint.kind, json);
        const vitalModel = obs.model ?? model;
        const vital: Vital = {
          id: randomUUID(),
          agent_id: agentId,
          ts: Date.now(),
          source: 'gateway',
          kind: 'llm',
          ...(vitalModel ? { model: vitalModel } : {}),
          provider: provider.name,
          latency_ms: round(performance.now() - started),
          ...(streamed && ttftAt !== undefined ? { ttft_ms: round(ttftAt - started) } : {}),
          input_tokens: input,
          output_tokens: output,
          total_tokens: obs.total_tokens ?? input + output,
          tool_calls: obs.tool_calls,
          retries,
          cost: deps.pricing.costOf(vitalModel, input, output),
          // A client that hangs up on its own stream is not an unhealthy call.
          success: status < 400 && (errorType === undefined || errorType === 'client_aborted'),
          ...(errorType !== undefined || status >= 400 ? { error_type: errorType ?? `http_${status}` } : {}),
          ...(systemPrompt !== undefined ? { prompt_hash: promptHashOf(systemPrompt) } : {}),
          ...(requestHash !== undefined ? { request_hash: requestHash } : {}),
        };
        deps.publisher.submit(vital);
        deps.directory.record(vital);
        deps.policies.recordUsage(decision.accounts, vital.total_tokens);
      };

      res.on('close', onClose);
      let upstream: Dispatcher.ResponseData;
      try {
        upstream = await undiciRequest(target.url, {
          method: request.method as Dispatcher.HttpMethod,
          headers: upstreamHeaders(request.headers, provider, deps.env, sendBody?.length),
          body: sendBody,
          dispatcher: deps.dispatcher,
          signal: abort.signal,
          headersTimeout: deps.headersTimeoutMs,
          bodyTimeout: deps.bodyTimeoutMs,
        });
      } catch (error) {
        const empty = emptyObservation(model);
        if (killedBy) {
          answer(403, 'agent_quarantined', quarantineMessage(agentId, killedBy), quarantineHeaders(killedBy));
          return finish(empty, 403, 'agent_quarantined');
        }
        // The client hung up before the provider answered: nobody to answer, but the call still happened.
        if (abort.signal.aborted) return finish(empty, 499, 'client_aborted');
        const failure = upstreamFailure(error);
        deps.logger.warn(
          { agent_id: agentId, provider: provider.name, err: error },
          'upstream request failed',
        );
        answer(
          failure.status,
          failure.errorType,
          `the gateway could not reach provider '${provider.name}': ${(error as Error).message}`,
        );
        return finish(empty, failure.status, failure.errorType);
      }
      upstreamBody = upstream.body;

      reply.hijack();
      const contentType = String(upstream.headers['content-type'] ?? '');
      streamed = contentType.startsWith('text/event-stream');
      // A non-streamed answer is complete at the provider once its headers arrive: a quarantine now has
      // nothing left to stop, and cutting the body would only hand the client half a JSON document.
      if (!streamed) deps.quarantine.release(agentId, call);
      const transform = streamed && rewrite.hideUsage;
      res.writeHead(upstream.statusCode, clientHeaders(upstream.headers, !transform));

      let observation: CallObservation;
      let pump: PumpResult;
      let ttftAt: number | undefined;
      if (streamed) {
        const tap = streamTap(endpoint, model, rewrite.hideUsage);
        pump = await pumpSse({
          body: upstream.body,
          res,
          onEvent: tap.onEvent,
          transform,
          isKilled: () => killedBy !== undefined,
          killEvent: () =>
            providerStreamError(
              endpoint.family,
              403,
              'agent_quarantined',
              quarantineMessage(agentId, killedBy!),
            ),
        });
        observation = tap.result();
        ttftAt = tap.firstTokenAt();
        if (pump.killed) observation.error_type = 'agent_quarantined';
      } else {
        pump = await pumpBody({ body: upstream.body, res, inspectLimit: INSPECT_LIMIT });
        observation = observeBody(endpoint, upstream.statusCode, pump.body, model);
      }
      if (pump.clientAborted) observation.error_type ??= 'client_aborted';
      if (pump.upstreamError !== undefined)
        observation.error_type ??= upstreamFailure(pump.upstreamError, 'upstream_stream_error').errorType;
      finish(observation, upstream.statusCode, observation.error_type, ttftAt);
    } catch (error) {
      // A bug, not a provider's fault: the call still leaves its vital, and a hijacked response is cut so the
      // client sees a broken answer at once instead of waiting for one that never comes.
      deps.logger.error({ agent_id: agentId, err: error }, 'proxying failed');
      if (finish) finish(emptyObservation(model), 500, 'gateway_error');
      else deps.metrics.request('gateway_error');
      if (reply.sent) res.destroy();
      else answer(500, 'gateway_error', 'the gateway failed while proxying this call');
    } finally {
      deps.quarantine.release(agentId, call);
      res.off('close', onClose);
      if (upstreamBody && !upstreamBody.destroyed) upstreamBody.destroy();
    }
  };
}

/** How a failed upstream request is answered and recorded. */
function upstreamFailure(
  error: unknown,
  otherwise = 'upstream_unreachable',
): { status: number; errorType: string } {
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  )
    return { status: 504, errorType: 'upstream_timeout' };
  if (
    error instanceof undiciErrors.HTTPParserError ||
    error instanceof undiciErrors.ResponseContentLengthMismatchError
  )
    return { status: 502, errorType: 'upstream_protocol_error' };
  return { status: 502, errorType: otherwise };
}

function announce(deps: ProxyDeps, agentId: string, identity: 'header' | 'api_key' | 'ip_user_agent'): void {
  deps.bus
    .publishEvent('agent.discovered', agentId, { agent_id: agentId, source: 'gateway', identity })
    .catch((error: unknown) =>
      deps.logger.warn({ agent_id: agentId, err: error }, 'could not announce a new agent'),
    );
}

function quarantineMessage(agentId: string, entry: QuarantineEntry): string {
  const incident = entry.infection_id ? ` (incident ${entry.infection_id})` : '';
  return `agent '${agentId}' is quarantined by Immune${incident}: ${entry.reason}. State ${entry.state} since ${new Date(entry.since).toISOString()}.`;
}

function quarantineHeaders(entry: QuarantineEntry): Record<string, string> {
  return {
    'x-immune-quarantine': entry.state,
    ...(entry.infection_id ? { 'x-immune-incident': entry.infection_id } : {}),
  };
}

function parseJson(
  raw: Buffer | undefined,
  contentType: string | undefined,
): Record<string, unknown> | undefined {
  if (!raw || raw.length === 0 || !contentType?.includes('json')) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return isRecord(value) ? value : undefined;
  } catch {
    // Malformed JSON goes upstream untouched: the provider's own error is what the client should see.
    return undefined;
  }
}

function toolNames(json: Record<string, unknown> | undefined): string[] {
  if (!json || !Array.isArray(json.tools)) return [];
  return json.tools
    .map((tool) => (isRecord(tool) ? (isRecord(tool.function) ? tool.function.name : tool.name) : undefined))
    .filter((name): name is string => typeof name === 'string');
}

interface Tap {
  onEvent: (event: SseEvent) => EventDecision | undefined;
  result: () => CallObservation;
  /** performance.now() at the first event that carried a generated token, in this wire format. */
  firstTokenAt: () => number | undefined;
}

function streamTap(endpoint: Endpoint, model: string | undefined, hideUsage: boolean): Tap {
  if (endpoint.kind === 'responses') {
    const tap = new ResponsesStreamTap(model);
    return {
      onEvent: (e) => void tap.onEvent(e),
      result: () => tap.result(),
      firstTokenAt: () => tap.firstTokenAt,
    };
  }
  if (endpoint.kind === 'messages') {
    const tap = new MessagesStreamTap(model);
    return {
      onEvent: (e) => void tap.onEvent(e),
      result: () => tap.result(),
      firstTokenAt: () => tap.firstTokenAt,
    };
  }
  const tap = new ChatStreamTap(model, hideUsage);
  return { onEvent: (e) => tap.onEvent(e), result: () => tap.result(), firstTokenAt: () => tap.firstTokenAt };
}

function observeBody(
  endpoint: Endpoint,
  status: number,
  body: Buffer | undefined,
  model: string | undefined,
): CallObservation {
  let parsed: unknown;
  if (body && body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
  }
  if (endpoint.kind === 'messages') return observeMessage(status, parsed, model);
  if (endpoint.kind === 'responses') return observeResponse(status, parsed, model);
  // Completions and embeddings report usage the same way chat does.
  return observeChatCompletion(status, parsed, model);
}

const round = (ms: number) => Math.round(ms * 100) / 100;
