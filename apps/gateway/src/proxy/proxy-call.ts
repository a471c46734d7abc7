import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Bus, QuarantineEntry, VitalPublisher } from '@immune/bus';
import {
  type AgentIdentity,
  apiKeyOf,
  type IdentityOptions,
  identifyAgent,
  keyFingerprint,
  type Pricing,
  promptHashOf,
  type Vital,
} from '@immune/core';
import type { Logger } from '@immune/runtime';
import { type Dispatcher, errors as undiciErrors } from 'undici';
import type { OpenCall, QuarantineView } from '../enforcement/quarantine-view.js';
import { clampMutations } from '../enforcement/soft-containment.js';
import { requestHashOf } from '../extract/fingerprint.js';
import { type CallObservation, emptyObservation, isRecord } from '../extract/observation.js';
import type { RetryTracker } from '../extract/retry-tracker.js';
import type { PolicyDecision, PolicyEngine } from '../policy/policy-engine.js';
import {
  assertSafePath,
  type Provider,
  type ProviderRegistry,
  UnsafePathError,
} from '../routing/providers.js';
import type { AgentDirectory } from '../state/agent-directory.js';
import { routeRequest } from './adapters/index.js';
import type { Routed, StreamTap } from './adapters/types.js';
import { clientHeaders, upstreamHeaders } from './forward-headers.js';
import { StreamForwarder } from './stream-forwarder.js';

/** What the proxy reports about each request; implemented by `GatewayMetrics` (GenAI semantic conventions). */
export interface ProxyMetrics {
  /** One per request, whatever its outcome (`ok`, an error type, or the refusal's code). */
  request(outcome: string): void;
  /** One per call that reached (or tried to reach) a provider and produced a vital. */
  call(vital: Vital, operation: string): void;
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
  bodyLimitBytes: number;
}

/** Non-streamed bodies up to this size are parsed for usage; bigger ones are forwarded without it. */
const INSPECT_LIMIT = 16 * 1024 * 1024;

/**
 * The proxy on bare node:http, in front of fastify: per request it costs one object (this), a few listeners and
 * one undici dispatch, no framework routing, hooks, request logger or promises. Returns false for a path the
 * proxy does not serve (the management API, health), which fastify then answers.
 */
export function createProxy(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const fingerprints = new KeyFingerprints();
  return (req, res) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const routed = routeRequest(q === -1 ? rawUrl : rawUrl.slice(0, q), req.headers);
    if (!routed) return false;
    new ProxyCall(deps, fingerprints, req, res, routed, q === -1 ? '' : rawUrl.slice(q)).start();
    return true;
  };
}

class GatewayAbort extends Error {
  override readonly name = 'GatewayAbort';
}

/**
 * One proxied call, from the request's first byte to its vital: identify the agent, admit it past quarantine,
 * read the body, apply policy, route to a registered provider, forward the answer as it arrives (streams
 * message by message) and record exactly one vital. It is also the undici dispatch handler of its upstream
 * request and the quarantine's handle on it (`kill`).
 *
 * Every call that was sent (or tried to be sent) upstream leaves exactly one vital, whatever its end. Requests
 * the gateway refuses itself (quarantine, policy, bad path, no provider) never reach a provider and leave no
 * vital, only a count: a throttled agent's refused calls must not read as an error spike against its cure.
 */
class ProxyCall implements OpenCall, Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private agentId = '';
  private admitted = false;
  private released = false;
  private chunks: Buffer[] = [];
  private size = 0;
  private json: Record<string, unknown> | undefined;
  private model: string | undefined;
  private provider: Provider | undefined;
  private decision: (PolicyDecision & { allow: true }) | undefined;
  private hideUsage = false;
  private requestHash: string | undefined;
  private retries = 0;
  /** The upstream request was dispatched: from here on the call leaves a vital. */
  private sent = false;
  private finished = false;
  private controller: Dispatcher.DispatchController | undefined;
  private killedBy: QuarantineEntry | undefined;
  private clientGone = false;
  private status: number | undefined;
  private streamed = false;
  private tap: StreamTap | undefined;
  private forwarder: StreamForwarder | undefined;
  private kept: Buffer[] | undefined;
  private keptSize = 0;

  constructor(
    private readonly deps: ProxyDeps,
    private readonly fingerprints: KeyFingerprints,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly routed: Routed,
    private readonly search: string,
  ) {}

  start(): void {
    const { deps, req } = this;
    try {
      assertSafePath(this.routed.path);
    } catch (error) {
      if (error instanceof UnsafePathError) {
        this.refuse(400, 'invalid_path', `path refused by the gateway: ${error.message}`);
        return;
      }
      throw error;
    }
    const who = identifyAgent(req.headers, req.socket.remoteAddress ?? '', deps.identity);
    if ('error' in who) {
      this.refuse(400, 'agent_identity', who.error);
      return;
    }
    this.agentId = who.agentId;
    if (deps.directory.touch(who.agentId, who.identity, Date.now())) this.announce(who.identity);

    // The request path's one enforcement point: from admission on, a quarantine written while this call is in
    // flight ends it (`kill`), waiting for headers or streaming; `release` undoes admission on every way out.
    const quarantined = deps.quarantine.admit(this.agentId, this);
    if (quarantined) {
      this.refuse(
        403,
        'agent_quarantined',
        this.quarantineMessage(quarantined),
        quarantineHeaders(quarantined),
      );
      return;
    }
    this.admitted = true;
    // Shared listeners that find their call on the request / response (`CALL`): no closures per request.
    req[CALL] = this;
    this.res[CALL] = this;
    this.res.on('close', onResponseClose);
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
    req.on('error', onRequestError);
  }

  /** @internal A chunk of the request body (listener `onRequestData`). */
  bodyChunk(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size <= this.deps.bodyLimitBytes) this.chunks.push(chunk);
  }

  /** @internal The request body is complete (listener `onRequestEnd`). */
  bodyEnd(): void {
    try {
      this.forward();
    } catch (error) {
      this.fail(error);
    }
  }

  /** @internal The request stream failed (listener `onRequestError`). */
  bodyError(): void {
    this.release();
  }

  /** @internal The client's connection closed (listener `onResponseClose`), finished or not. */
  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    if (this.controller) this.controller.abort(new GatewayAbort('the client went away'));
    else if (!this.sent) this.release();
  }

  /** Called by the quarantine view when this agent is quarantined while the call is in flight. */
  kill(entry: QuarantineEntry): void {
    this.killedBy = entry;
    if (this.controller) this.controller.abort(new GatewayAbort('the agent was quarantined'));
  }

  private forward(): void {
    const { deps, routed } = this;
    if (this.clientGone) {
      this.release();
      return;
    }
    if (this.killedBy) {
      this.refuse(
        403,
        'agent_quarantined',
        this.quarantineMessage(this.killedBy),
        quarantineHeaders(this.killedBy),
      );
      return;
    }
    if (this.size > deps.bodyLimitBytes) {
      this.refuse(413, 'request_too_large', `the request body is larger than ${deps.bodyLimitBytes} bytes`);
      return;
    }
    const raw =
      this.chunks.length === 0
        ? undefined
        : this.chunks.length === 1
          ? this.chunks[0]
          : Buffer.concat(this.chunks);
    this.chunks = [];
    const json = parseJson(raw, this.req.headers['content-type']);
    this.json = json;
    const requestedModel = typeof json?.model === 'string' ? json.model : undefined;
    const decision = deps.policies.decide({
      agentId: this.agentId,
      keyFingerprint: this.fingerprints.of(this.req.headers),
      model: requestedModel,
      tools: json ? routed.adapter.toolNames(json) : [],
    });
    if (!decision.allow) {
      this.refuse(
        decision.status,
        decision.code,
        decision.message,
        decision.retryAfterSeconds ? { 'retry-after': String(decision.retryAfterSeconds) } : {},
      );
      return;
    }
    this.decision = decision;
    // Soft containment (a SUSPECTED agent's severe anomaly): served, but throttled and clamped to its baseline.
    const soft = deps.quarantine.soft.admit(this.agentId, Date.now());
    if (soft !== undefined && !soft.ok) {
      this.refuse(
        429,
        'agent_contained',
        `agent '${this.agentId}' is contained by Immune: at most ${soft.entry.calls_per_minute} calls per minute while it is suspected (${soft.entry.reason})`,
        { 'retry-after': String(soft.retryAfterSeconds), 'x-immune-containment': 'soft' },
      );
      return;
    }
    const mutations =
      soft === undefined ? decision.mutations : clampMutations(decision.mutations, soft.maxTokens);
    const operation = routed.operation;
    const rewrite = json && operation ? routed.adapter.rewrite(operation, json, mutations) : undefined;
    this.hideUsage = rewrite?.hideUsage ?? false;
    const sendBody = rewrite?.body ? Buffer.from(JSON.stringify(rewrite.body)) : raw;
    this.model = typeof rewrite?.body?.model === 'string' ? rewrite.body.model : requestedModel;
    const provider = deps.registry.providerFor(this.agentId, routed.adapter.family);
    if (!provider) {
      this.refuse(502, 'no_provider', `no provider is registered for ${routed.adapter.family} traffic`);
      return;
    }
    this.provider = provider;
    let target: { origin: string; path: string };
    try {
      target = deps.registry.target(provider, routed.path, this.search, this.model);
    } catch (error) {
      if (error instanceof UnsafePathError) {
        this.refuse(400, 'invalid_path', error.message);
        return;
      }
      throw error;
    }
    if (operation && raw) {
      this.requestHash = requestHashOf(this.agentId, routed.path, raw);
      this.retries = deps.retries.observe(this.requestHash, Date.now());
    }
    this.sent = true;
    deps.dispatcher.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: upstreamHeaders(this.req.headers, provider, deps.env, sendBody?.length),
        body: sendBody ?? null,
        headersTimeout: deps.headersTimeoutMs,
        bodyTimeout: deps.bodyTimeoutMs,
      },
      this,
    );
  }

  // --- undici dispatch handler -----------------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.killedBy) controller.abort(new GatewayAbort('the agent was quarantined'));
    else if (this.clientGone) controller.abort(new GatewayAbort('the client went away'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    try {
      this.responseStart(statusCode, headers);
    } catch (error) {
      this.fail(error);
    }
  }

  private responseStart(statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx informational
    this.status = statusCode;
    const contentType = headers['content-type'];
    const streamed = typeof contentType === 'string' && this.routed.adapter.isStream(contentType);
    this.streamed = streamed;
    const transform = streamed && this.hideUsage;
    if (streamed && this.routed.operation) {
      this.tap = this.routed.adapter.streamTap(this.routed.operation, this.model, this.hideUsage);
      this.forwarder = new StreamForwarder(this.res, this.routed.adapter.framing, this.tap, transform);
    } else {
      // A non-streamed answer is complete at the provider once its headers arrive: a quarantine has nothing
      // left to stop, and cutting the body would hand the client half a JSON document.
      this.deps.quarantine.release(this.agentId, this);
      if (this.routed.operation) this.kept = [];
    }
    this.res.writeHead(statusCode, clientHeaders(headers as Record<string, string | string[]>, !transform));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    let more: boolean;
    if (this.forwarder) {
      more = this.forwarder.push(chunk);
    } else {
      if (this.kept) {
        this.keptSize += chunk.length;
        if (this.keptSize <= INSPECT_LIMIT) this.kept.push(chunk);
      }
      more = this.res.write(chunk);
    }
    // Backpressure: a slow client slows the upstream read instead of growing memory.
    if (!more && !this.res.destroyed) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    try {
      this.responseEnd();
    } catch (error) {
      this.fail(error);
    }
  }

  private responseEnd(): void {
    const operation = this.routed.operation;
    const status = this.status ?? 502;
    let observation: CallObservation;
    if (this.forwarder) {
      this.forwarder.end();
      observation = this.tap!.result();
    } else {
      this.res.end();
      observation =
        operation && this.kept && this.keptSize <= INSPECT_LIMIT
          ? this.routed.adapter.observe(operation, status, parseBody(this.kept), this.model)
          : emptyObservation(this.model);
    }
    this.finish(observation, status, observation.error_type);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    try {
      this.responseError(error);
    } catch (failure) {
      this.fail(failure);
    }
  }

  private responseError(error: Error): void {
    const empty = () => (this.tap ? this.tap.result() : emptyObservation(this.model));
    if (this.status === undefined) {
      // Nothing was sent to the client yet.
      if (this.killedBy) {
        this.answer(
          403,
          'agent_quarantined',
          this.quarantineMessage(this.killedBy),
          quarantineHeaders(this.killedBy),
        );
        this.finish(empty(), 403, 'agent_quarantined');
        return;
      }
      // The client hung up before the provider answered: nobody to answer, but the call still happened.
      if (this.clientGone) {
        this.finish(empty(), 499, 'client_aborted');
        return;
      }
      const failure = upstreamFailure(error);
      this.deps.logger.warn(
        { agent_id: this.agentId, provider: this.provider?.name, err: error },
        'upstream request failed',
      );
      this.answer(
        failure.status,
        failure.errorType,
        `the gateway could not reach provider '${this.provider?.name}': ${error.message}`,
      );
      this.finish(empty(), failure.status, failure.errorType);
      return;
    }
    const observation = empty();
    if (this.killedBy && this.forwarder) {
      this.forwarder.kill(
        this.routed.adapter.streamError(403, 'agent_quarantined', this.quarantineMessage(this.killedBy)),
      );
      this.finish(observation, this.status, 'agent_quarantined');
      return;
    }
    if (this.clientGone) {
      this.finish(observation, this.status, observation.error_type ?? 'client_aborted');
      return;
    }
    // The upstream broke the body off: broken for the client too, as it would be without the gateway.
    this.res.destroy();
    this.finish(observation, this.status, upstreamFailure(error, 'upstream_stream_error').errorType);
  }

  // --- endings -----------------------------------------------------------------------------------------------

  private finish(obs: CallObservation, status: number, errorType: string | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const { deps } = this;
    try {
      deps.metrics.request(status < 400 && !errorType ? 'ok' : (errorType ?? `http_${status}`));
      const operation = this.routed.operation;
      if (!operation || !this.provider) return;
      const input = obs.input_tokens;
      const output = obs.output_tokens;
      const systemPrompt = this.json ? this.routed.adapter.systemPrompt(operation, this.json) : undefined;
      const model = obs.model ?? this.model;
      const ttftAt = this.tap?.firstTokenAt;
      // Built in one literal with the optional fields assigned after: no throw-away objects for spreads.
      const vital: Vital = {
        id: randomUUID(),
        agent_id: this.agentId,
        ts: Date.now(),
        source: 'gateway',
        kind: 'llm',
        provider: this.provider.name,
        latency_ms: round(performance.now() - this.started),
        input_tokens: input,
        output_tokens: output,
        total_tokens: obs.total_tokens ?? input + output,
        tool_calls: obs.tool_calls,
        retries: this.retries,
        cost: deps.pricing.costOf(model, input, output),
        // A client that hangs up on its own stream is not an unhealthy call.
        success: status < 400 && (errorType === undefined || errorType === 'client_aborted'),
      };
      if (model) vital.model = model;
      if (this.streamed && ttftAt !== undefined) vital.ttft_ms = round(ttftAt - this.started);
      if (errorType !== undefined || status >= 400) vital.error_type = errorType ?? `http_${status}`;
      if (systemPrompt !== undefined) vital.prompt_hash = promptHash(systemPrompt);
      if (this.requestHash !== undefined) vital.request_hash = this.requestHash;
      deps.publisher.submit(vital);
      deps.directory.record(vital);
      if (this.decision) deps.policies.recordUsage(this.decision.accounts, vital.total_tokens);
      deps.metrics.call(vital, operation.name);
    } finally {
      this.release();
    }
  }

  /** Answers a refusal of the gateway's own, in the provider's format; the call never reached a provider. */
  private refuse(status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    this.deps.metrics.request(code);
    this.answer(status, code, message, headers);
    this.release();
  }

  private answer(status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    if (this.res.headersSent || this.res.destroyed) return;
    const body = this.routed.adapter.errorBody(status, code, message);
    this.res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    this.res.end(body);
    // A refused upload need not be read to the end; the connection stays usable once it is drained.
    if (!this.req.complete) this.req.resume();
  }

  /** Undoes admission; safe to call more than once and from any ending. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.admitted) this.deps.quarantine.release(this.agentId, this);
    this.res.off('close', onResponseClose);
  }

  /**
   * The catch of every step (request end, response start / end / error; a try/catch each, not a closure per
   * step). A bug, not a provider's fault: the call still leaves its vital, the upstream request is cancelled, and a
   * response already started is cut so the client sees a broken answer at once instead of waiting forever.
   */
  private fail(error: unknown): void {
    if (error instanceof RangeError && !this.sent && !this.res.headersSent) {
      // A body nested so deeply that inspecting or rewriting it overflows the stack (found by the fuzz
      // suite). It is the client's fault, and it must not reach the provider uninspected: policies would
      // be bypassed. Catching it here costs the hot path nothing, unlike a depth walk of every body.
      this.refuse(
        400,
        'request_too_deep',
        'the request body nests JSON too deeply for the gateway to inspect',
      );
      return;
    }
    this.deps.logger.error({ agent_id: this.agentId, err: error }, 'proxying failed');
    this.controller?.abort(new GatewayAbort('the gateway failed'));
    if (this.res.headersSent) this.res.destroy();
    else this.answer(500, 'gateway_error', 'the gateway failed while proxying this call');
    if (this.sent) this.finish(emptyObservation(this.model), 500, 'gateway_error');
    else {
      this.deps.metrics.request('gateway_error');
      this.release();
    }
  }

  private announce(identity: AgentIdentity['identity']): void {
    const { deps, agentId } = this;
    deps.bus
      .publishEvent('agent.discovered', agentId, { agent_id: agentId, source: 'gateway', identity })
      .catch((error: unknown) =>
        deps.logger.warn({ agent_id: agentId, err: error }, 'could not announce a new agent'),
      );
  }

  private quarantineMessage(entry: QuarantineEntry): string {
    const incident = entry.infection_id ? ` (incident ${entry.infection_id})` : '';
    return `agent '${this.agentId}' is quarantined by Immune${incident}: ${entry.reason}. State ${entry.state} since ${new Date(entry.since).toISOString()}.`;
  }
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

function parseBody(chunks: Buffer[]): unknown {
  if (chunks.length === 0) return undefined;
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * An agent sends the same system prompt on every call: its hash is remembered (bounded), not recomputed. The
 * text is only a map key in this process's memory; only the hash leaves the gateway.
 */
const promptHashes = new Map<string, string>();
function promptHash(text: string): string {
  let hash = promptHashes.get(text);
  if (hash === undefined) {
    hash = promptHashOf(text);
    if (promptHashes.size >= 10_000) promptHashes.clear();
    promptHashes.set(text, hash);
  }
  return hash;
}

/** The policy engine's key fingerprint per API key, remembered (bounded) rather than hashed on every call. */
class KeyFingerprints {
  private readonly known = new Map<string, string>();

  of(headers: IncomingHttpHeaders): string | undefined {
    const key = apiKeyOf(headers);
    if (key === undefined) return undefined;
    let fingerprint = this.known.get(key);
    if (fingerprint === undefined) {
      fingerprint = keyFingerprint(key);
      if (this.known.size >= 10_000) this.known.clear();
      this.known.set(key, fingerprint);
    }
    return fingerprint;
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Where the shared listeners below find their call: one property on the request and the response. */
const CALL = Symbol('immune.proxyCall');
declare module 'node:http' {
  interface IncomingMessage {
    [CALL]?: ProxyCall;
  }
  interface ServerResponse {
    [CALL]?: ProxyCall;
  }
}
function onRequestData(this: IncomingMessage, chunk: Buffer): void {
  this[CALL]?.bodyChunk(chunk);
}
function onRequestEnd(this: IncomingMessage): void {
  this[CALL]?.bodyEnd();
}
function onRequestError(this: IncomingMessage): void {
  this[CALL]?.bodyError();
}
function onResponseClose(this: ServerResponse): void {
  this[CALL]?.clientClosed();
}
