import { randomUUID } from 'node:crypto';
import type { Bus, QuarantineEntry, VitalPublisher } from '@immune/bus';
import { apiKeyOf, type IdentityOptions, identifyAgent, keyFingerprint, type Vital } from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Dispatcher, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { QuarantineView } from '../enforcement/quarantine-view.js';
import { MessagesStreamTap, observeMessage } from '../extract/anthropic.js';
import { requestHashOf, sha256Hex, systemPromptOf } from '../extract/fingerprint.js';
import { type CallObservation, emptyObservation, isRecord } from '../extract/observation.js';
import { ChatStreamTap, observeChatCompletion } from '../extract/openai-chat.js';
import { observeResponse, ResponsesStreamTap } from '../extract/openai-responses.js';
import type { RetryTracker } from '../extract/retry-tracker.js';
import type { SseEvent } from '../extract/sse.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import type { Pricing } from '../pricing/pricing.js';
import { assertSafePath, type ProviderRegistry, UnsafePathError } from '../routing/providers.js';
import type { AgentDirectory } from '../state/agent-directory.js';
import { type Endpoint, endpointOf } from './endpoints.js';
import { clientHeaders, upstreamHeaders } from './forward-headers.js';
import { providerError, providerStreamError } from './provider-errors.js';
import { type EventDecision, type PumpResult, pumpBody, pumpSse } from './response-pump.js';
import { rewriteRequest } from './rewrite.js';

export interface ProxyMetrics {
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
 */
export function createProxyHandler(deps: ProxyDeps) {
  return async function proxy(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const rawUrl = request.raw.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const search = q === -1 ? '' : rawUrl.slice(q);
    const endpoint = endpointOf(path);
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      deps.metrics.request(code);
      void reply
        .code(status)
        .headers({ 'content-type': 'application/json', ...headers })
        .send(providerError(endpoint.family, status, code, message));
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

    const quarantined = deps.quarantine.blockOf(agentId);
    if (quarantined) {
      return refuse(403, 'agent_quarantined', quarantineMessage(agentId, quarantined), {
        'x-immune-quarantine': quarantined.state,
        ...(quarantined.infection_id ? { 'x-immune-incident': quarantined.infection_id } : {}),
      });
    }

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
    const model = typeof rewrite.body?.model === 'string' ? rewrite.body.model : requestedModel;
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

    const now = Date.now();
    const requestHash = endpoint.vital && raw ? requestHashOf(agentId, path, raw) : undefined;
    const retries = requestHash === undefined ? 0 : deps.retries.observe(requestHash, now);
    const res = reply.raw;
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
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
      res.off('close', onClose);
      if (abort.signal.aborted) return finish(emptyObservation(model), 499, 'client_aborted', undefined);
      const timeout =
        error instanceof undiciErrors.HeadersTimeoutError ||
        error instanceof undiciErrors.ConnectTimeoutError;
      const code = timeout ? 'upstream_timeout' : 'upstream_unreachable';
      deps.logger.warn({ agent_id: agentId, provider: provider.name, err: error }, 'upstream request failed');
      refuse(
        timeout ? 504 : 502,
        code,
        `the gateway could not reach provider '${provider.name}': ${(error as Error).message}`,
      );
      return finish(emptyObservation(model), timeout ? 504 : 502, code, undefined);
    }

    reply.hijack();
    const contentType = String(upstream.headers['content-type'] ?? '');
    const sse = contentType.startsWith('text/event-stream');
    const transform = sse && rewrite.hideUsage;
    res.writeHead(upstream.statusCode, clientHeaders(upstream.headers, !transform));

    let observation: CallObservation;
    let pump: PumpResult;
    if (sse) {
      const tap = streamTap(endpoint, model, rewrite.hideUsage);
      let killedBy: QuarantineEntry | undefined;
      const kill = new AbortController();
      const untrack = deps.quarantine.track(agentId, {
        kill: (entry) => {
          killedBy = entry;
          kill.abort();
          abort.abort();
        },
      });
      pump = await pumpSse({
        body: upstream.body,
        res,
        onEvent: tap.onEvent,
        transform,
        killSignal: kill.signal,
        killEvent: () =>
          providerStreamError(
            endpoint.family,
            403,
            'agent_quarantined',
            quarantineMessage(agentId, killedBy!),
          ),
      });
      untrack();
      observation = tap.result();
      if (pump.killed) observation.error_type = 'agent_quarantined';
    } else {
      pump = await pumpBody({ body: upstream.body, res, inspectLimit: INSPECT_LIMIT });
      observation = observeBody(endpoint, upstream.statusCode, pump.body, model);
    }
    res.off('close', onClose);
    if (pump.clientAborted) observation.error_type ??= 'client_aborted';
    if (pump.upstreamError !== undefined) observation.error_type ??= 'upstream_stream_error';
    if (!upstream.body.destroyed) upstream.body.destroy();
    finish(observation, upstream.statusCode, observation.error_type, pump.firstByteAt);

    function finish(
      obs: CallObservation,
      status: number,
      errorType: string | undefined,
      firstByteAt: number | undefined,
    ): void {
      deps.metrics.request(status < 400 && !errorType ? 'ok' : (errorType ?? `http_${status}`));
      if (!endpoint.vital) return;
      const ended = performance.now();
      const input = obs.input_tokens;
      const output = obs.output_tokens;
      const systemPrompt = systemPromptOf(endpoint.kind, json);
      const vital: Vital = {
        id: randomUUID(),
        agent_id: agentId,
        ts: Date.now(),
        source: 'gateway',
        kind: 'llm',
        ...((obs.model ?? model) ? { model: obs.model ?? model } : {}),
        ...(provider ? { provider: provider.name } : {}),
        latency_ms: round(ended - started),
        ...(sse && firstByteAt !== undefined ? { ttft_ms: round(firstByteAt - started) } : {}),
        input_tokens: input,
        output_tokens: output,
        total_tokens: obs.total_tokens ?? input + output,
        tool_calls: obs.tool_calls,
        retries,
        cost: deps.pricing.costOf(obs.model ?? model, input, output),
        // A client that hangs up on its own stream is not an unhealthy call.
        success: status < 400 && (errorType === undefined || errorType === 'client_aborted'),
        ...(errorType !== undefined || status >= 400 ? { error_type: errorType ?? `http_${status}` } : {}),
        ...(systemPrompt !== undefined ? { prompt_hash: sha256Hex(systemPrompt) } : {}),
        ...(requestHash !== undefined ? { request_hash: requestHash } : {}),
      };
      deps.publisher.submit(vital);
      deps.directory.record(vital);
      if (decision.allow) deps.policies.recordUsage(decision.accounts, vital.total_tokens);
    }
  };
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
}

function streamTap(endpoint: Endpoint, model: string | undefined, hideUsage: boolean): Tap {
  if (endpoint.kind === 'responses') {
    const tap = new ResponsesStreamTap(model);
    return { onEvent: (e) => void tap.onEvent(e), result: () => tap.result() };
  }
  if (endpoint.kind === 'messages') {
    const tap = new MessagesStreamTap(model);
    return { onEvent: (e) => void tap.onEvent(e), result: () => tap.result() };
  }
  const tap = new ChatStreamTap(model, hideUsage);
  return { onEvent: (e) => tap.onEvent(e), result: () => tap.result() };
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
