import type { ServerResponse } from 'node:http';
import type { QuarantineEntry } from '@immune/bus';
import { apiKeyOf, type IdentityOptions, identifyAgent, keyFingerprint, type Vital } from '@immune/core';
import type { Logger } from '@immune/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Dispatcher, errors as undiciErrors, request as undiciRequest } from 'undici';
import { Correlator, type Scope } from '../correlator.js';
import type { OriginGuard } from '../enforcement/origin-guard.js';
import type { QuarantineGuard } from '../enforcement/quarantine-guard.js';
import type { TokenBuckets } from '../enforcement/token-buckets.js';
import type { Refusal, ToolPolicy } from '../enforcement/tool-policy.js';
import {
  type ErrorObject,
  errorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  PROXY_ERROR,
  parseMessages,
  STANDARD_ERROR,
} from '../jsonrpc.js';
import { type SseBlock, SseSplitter, sseMessage } from '../sse-splitter.js';
import { type CallOutcome, outcomeOfResult, startToolCall, toolVital } from '../tool-call.js';
import type { UpstreamTable, UpstreamTarget } from '../upstreams.js';
import { clientHeaders, upstreamHeaders } from './forward-headers.js';
import {
  factsOf,
  headerMismatch,
  protocolVersionOf,
  type RequestFacts,
  sessionOf,
  sessionOfEndpoint,
} from './request-facts.js';

export interface ProxyMetrics {
  request(outcome: string): void;
}

export interface ProxyDeps {
  upstreams: UpstreamTable;
  correlator: Correlator;
  quarantine: QuarantineGuard;
  policy: ToolPolicy;
  origins: OriginGuard;
  identity: IdentityOptions;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: ProxyMetrics;
  publish: (vital: Vital) => void;
  now: () => number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  clientStallMs: number;
  softCallsPerMinute: number;
  softLimiter: TokenBuckets;
}

/** JSON bodies up to this size are read for results; bigger ones pass unread (their calls end as upstream_closed). */
const INSPECT_LIMIT = 16 * 1024 * 1024;

type Phase = 'waiting' | 'sse' | 'body' | 'done';

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

let exchangeCounter = 0;

/**
 * One proxied HTTP exchange of any MCP revision: checks (origin, identity, quarantine, headers, tool policy),
 * forwarding with the body untouched, the answer streamed back as it comes (SSE block by block), results
 * matched to their `tools/call` for the vitals, and the cut when the agent is quarantined mid-stream.
 */
export function createProxyHandler(deps: ProxyDeps) {
  return async function proxy(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const rawUrl = request.raw.url ?? '/';
    const headers = request.headers;
    const method = request.method;
    const refusal = (status: number, body: ErrorObject | ErrorObject[], outcome: string) => {
      deps.metrics.request(outcome);
      void reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
    };

    const originProblem = deps.origins.check(headers.host, first(headers.origin), request.protocol);
    if (originProblem !== undefined)
      return refusal(
        403,
        errorObject(null, STANDARD_ERROR.invalidRequest, `forbidden: ${originProblem}`),
        'origin',
      );

    const target = deps.upstreams.resolve(rawUrl);
    if (target === undefined)
      return refusal(
        404,
        errorObject(
          null,
          STANDARD_ERROR.invalidRequest,
          `no MCP server is mounted at ${rawUrl.split('?')[0]}`,
        ),
        'no_upstream',
      );

    const who = identifyAgent(headers, request.ip, deps.identity);
    if ('error' in who)
      return refusal(400, errorObject(null, STANDARD_ERROR.invalidRequest, who.error), 'identity');
    const agentId = who.agentId;

    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    const parsed =
      method === 'POST' && body !== undefined && body.length > 0
        ? parseMessages(body.toString('utf8'))
        : undefined;
    const messages = parsed?.messages ?? [];
    const facts = factsOf(parsed?.batch ?? false, messages);
    const session = sessionOf(headers, rawUrl);
    const scope: Scope = session
      ? { session: session.id }
      : { exchange: `${process.pid}:${++exchangeCounter}` };
    const now = deps.now();
    const traceparent = first(headers.traceparent);
    const calls = facts.toolCalls.map(({ id, params }) => ({
      id,
      call: startToolCall({
        agentId,
        server: target.upstream.name,
        params,
        headerTraceparent: traceparent,
        now,
      }),
    }));
    const settleNow = (outcome: CallOutcome) => {
      for (const { call } of calls) deps.publish(toolVital(call, outcome, deps.now()));
    };

    const contained = deps.quarantine.containmentOf(agentId);
    if (contained?.level === 'full' && (method === 'POST' || method === 'GET')) {
      settleNow({ success: false, errorType: 'agent_quarantined' });
      return refusal(403, quarantineErrors(facts, agentId, contained.entry), 'quarantined');
    }

    if (!facts.batch && messages.length === 1) {
      const mismatch = headerMismatch(headers, messages[0] as JsonRpcMessage, protocolVersionOf(headers));
      if (mismatch !== undefined) {
        const id = facts.requestIds[0] ?? null;
        settleNow({ success: false, errorType: `jsonrpc_${STANDARD_ERROR.headerMismatch}` });
        return refusal(
          400,
          errorObject(id, STANDARD_ERROR.headerMismatch, `Header mismatch: ${mismatch}`),
          'header_mismatch',
        );
      }
    }

    if (calls.length > 0) {
      const keyFp = (() => {
        const key = apiKeyOf(headers);
        return key === undefined ? undefined : keyFingerprint(key);
      })();
      for (const { call } of calls) {
        const refused =
          contained?.level === 'soft' ? throttle(deps, agentId, contained.entry, now) : undefined;
        const denied = refused ?? deps.policy.check(agentId, keyFp, call.tool, now);
        if (denied === undefined) continue;
        settleNow({ success: false, errorType: `jsonrpc_${denied.code}` });
        return refusal(200, policyErrors(facts, call.tool, denied), `policy_${denied.rule}`);
      }
    }

    const keys: Array<{ key: string; id: JsonRpcId }> = [];
    for (const { id, call } of calls) {
      const key = Correlator.key(agentId, scope, id);
      deps.correlator.track(key, id, call, scope);
      // Legacy HTTP+SSE: the result always comes on the GET stream, which may be another replica's.
      if (session?.legacy) deps.correlator.shareNow(key);
      keys.push({ key, id });
    }
    for (const id of facts.cancelled) {
      const key = Correlator.key(agentId, scope, id);
      const outcome: CallOutcome = { success: false, errorType: 'cancelled' };
      if (!deps.correlator.settle(key, outcome) && session)
        deps.correlator.settleRemote(agentId, session.id, id, outcome);
    }

    await forward(deps, request, reply, {
      target,
      agentId,
      scope,
      streamSession: session?.id,
      body,
      keys,
      ownIds: new Set(facts.requestIds.map(ownIdKey)),
      facts,
    });
  };
}

interface ForwardPlan {
  target: UpstreamTarget;
  agentId: string;
  scope: Scope;
  /** Session a response on this stream belongs to (header, query, or learnt from a legacy `endpoint` event). */
  streamSession: string | undefined;
  body: Buffer | undefined;
  keys: Array<{ key: string; id: JsonRpcId }>;
  /** Ids of the requests in this exchange's body (`typeof:id`). */
  ownIds: Set<string>;
  facts: RequestFacts;
}

async function forward(deps: ProxyDeps, request: FastifyRequest, reply: FastifyReply, plan: ForwardPlan) {
  const { agentId, keys } = plan;
  const res = reply.raw;
  reply.hijack();
  const abort = new AbortController();
  // An object, not a `let`: closures change it and TypeScript would narrow a local across awaits.
  const state: { phase: Phase } = { phase: 'waiting' };
  const isDone = () => state.phase === 'done';
  let clientGone = false;
  let resumable = false;
  let status = 0;
  let splitter: SseSplitter | undefined;
  let streamSession = plan.streamSession;

  const onClientClose = () => {
    if (isDone()) return;
    clientGone = true;
    abort.abort();
  };
  res.on('close', onClientClose);

  const settleOpen = (outcome: CallOutcome) => {
    for (const { key } of keys) deps.correlator.settle(key, outcome);
  };

  const untrack = deps.quarantine.track(agentId, {
    cut(entry) {
      if (isDone()) return;
      const current = state.phase;
      state.phase = 'done';
      abort.abort();
      deps.metrics.request('cut');
      const pending = keys.filter(({ key }) => deps.correlator.has(key));
      if (current === 'waiting') {
        settleOpen({ success: false, errorType: 'agent_quarantined' });
        if (!res.headersSent) {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify(quarantineErrors(plan.facts, agentId, entry)));
        }
        return;
      }
      if (current === 'sse') {
        // On a GET stream, the session's calls that this replica waits for would have been answered here.
        const waiting = [...pending];
        if (plan.facts.requestIds.length === 0 && streamSession !== undefined)
          waiting.push(...deps.correlator.pendingIn(agentId, streamSession));
        for (const { key, id } of waiting) {
          res.write(sseMessage(quarantineError(id, agentId, entry)));
          deps.correlator.settle(key, { success: false, errorType: 'agent_quarantined' });
        }
        res.end();
        return;
      }
      settleOpen({ success: false, errorType: 'agent_quarantined' });
      res.destroy();
    },
  });

  try {
    const upstream = await undiciRequest(plan.target.url, {
      method: request.method as Dispatcher.HttpMethod,
      headers: upstreamHeaders(
        request.headers,
        { host: request.headers.host, proto: request.protocol, for: request.ip },
        plan.body?.length,
      ),
      body: plan.body !== undefined && plan.body.length > 0 ? plan.body : null,
      signal: abort.signal,
      dispatcher: deps.dispatcher,
      headersTimeout: deps.headersTimeoutMs,
      bodyTimeout: 0,
    });
    if (isDone()) {
      upstream.body.destroy();
      return;
    }
    status = upstream.statusCode;
    const contentType = String(upstream.headers['content-type'] ?? '');
    const sse = contentType.startsWith('text/event-stream');
    state.phase = sse ? 'sse' : 'body';
    res.writeHead(status, clientHeaders(upstream.headers, !sse));
    res.flushHeaders();
    deps.metrics.request(`http_${status}`);

    const write = (bytes: Buffer) => writeWithBackpressure(res, bytes, deps.clientStallMs);
    const onMessage = (message: JsonRpcMessage) => {
      if (message.kind !== 'result' && message.kind !== 'error') return;
      if (message.id === null) return;
      const outcome: CallOutcome | 'input_required' =
        message.kind === 'result'
          ? outcomeOfResult(message.result)
          : { success: false, errorType: `jsonrpc_${message.code}` };
      const own = plan.ownIds.has(ownIdKey(message.id));
      const key = Correlator.key(
        agentId,
        own ? plan.scope : streamScope(plan.scope, streamSession),
        message.id,
      );
      if (deps.correlator.settle(key, outcome) || own || streamSession === undefined) return;
      deps.correlator.settleRemote(agentId, streamSession, message.id, outcome);
    };

    if (sse) {
      splitter = new SseSplitter();
      for await (const chunk of upstream.body) {
        if (isDone()) break;
        for (const block of splitter.push(chunk as Buffer)) {
          if (block.id !== undefined) resumable = true;
          let bytes = block.raw;
          if (block.event === 'endpoint' && block.data !== undefined) {
            streamSession ??= sessionOfEndpoint(block.data);
            bytes = rewriteEndpoint(deps, plan.target, block, request);
          }
          if (block.data !== undefined) inspectSse(block.data, onMessage);
          if (!(await write(bytes))) throw new ClientStalled();
          if (isDone()) break;
        }
      }
      if (!isDone() && splitter.remainder.length > 0) await write(splitter.remainder);
    } else {
      const chunks: Buffer[] = [];
      let size = 0;
      const idle = new IdleTimer(deps.bodyTimeoutMs, () => abort.abort(new UpstreamIdle()));
      try {
        for await (const chunk of upstream.body) {
          idle.touch();
          const bytes = chunk as Buffer;
          if (size + bytes.length <= INSPECT_LIMIT) chunks.push(bytes);
          size += bytes.length;
          if (!(await write(bytes))) throw new ClientStalled();
        }
      } finally {
        idle.stop();
      }
      if (size <= INSPECT_LIMIT && contentType.includes('json')) {
        const answer = parseMessages(Buffer.concat(chunks).toString('utf8'));
        for (const message of answer?.messages ?? []) onMessage(message);
      }
    }
    if (!isDone()) {
      state.phase = 'done';
      res.end();
    }
    endExchange(deps, keys, status, resumable, clientGone);
  } catch (error) {
    const current = state.phase;
    state.phase = 'done';
    if (error instanceof ClientStalled || clientGone) {
      clientGone = true;
      res.destroy();
      endExchange(deps, keys, status, resumable, true);
      return;
    }
    if (current === 'done') return;
    const timedOut =
      error instanceof undiciErrors.HeadersTimeoutError ||
      error instanceof UpstreamIdle ||
      (error instanceof Error && error.cause instanceof UpstreamIdle);
    if (current === 'waiting') {
      const code = timedOut ? 504 : 502;
      settleOpen({ success: false, errorType: timedOut ? 'upstream_timeout' : `http_${code}` });
      deps.metrics.request(timedOut ? 'upstream_timeout' : 'upstream_error');
      deps.logger.warn({ err: error, upstream: plan.target.upstream.name }, 'MCP upstream request failed');
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          errorObject(
            plan.facts.requestIds.length === 1 ? (plan.facts.requestIds[0] as JsonRpcId) : null,
            -32603,
            timedOut
              ? `MCP server ${plan.target.upstream.name} did not answer in time`
              : `MCP server ${plan.target.upstream.name} is unreachable`,
          ),
        ),
      );
      return;
    }
    // The body broke off mid-way: the client sees the connection end as the upstream's did.
    settleOpen({ success: false, errorType: timedOut ? 'upstream_timeout' : 'upstream_closed' });
    res.destroy();
  } finally {
    untrack();
    res.off('close', onClientClose);
  }
}

/**
 * What happens to calls the exchange did not answer. An HTTP error is final. With a session, a resumable stream
 * (events with ids) or a legacy 202 means the result may still come on another stream: the call waits.
 * Otherwise nothing can bring it any more.
 */
function endExchange(
  deps: ProxyDeps,
  keys: ReadonlyArray<{ key: string }>,
  status: number,
  resumable: boolean,
  clientGone: boolean,
): void {
  for (const { key } of keys) {
    if (!deps.correlator.has(key)) continue;
    if (status >= 400) {
      deps.correlator.settle(key, { success: false, errorType: `http_${status}` });
      continue;
    }
    if (resumable || status === 202) {
      deps.correlator.exchangeEnded(key, clientGone, clientGone ? 'client_aborted' : 'upstream_closed');
      continue;
    }
    deps.correlator.settle(key, {
      success: false,
      errorType: clientGone ? 'client_aborted' : 'upstream_closed',
    });
  }
}

function streamScope(scope: Scope, session: string | undefined): Scope {
  return session === undefined ? scope : { session };
}

function inspectSse(data: string, onMessage: (message: JsonRpcMessage) => void): void {
  const parsed = parseMessages(data);
  if (parsed !== undefined) for (const message of parsed.messages) onMessage(message);
}

function rewriteEndpoint(
  deps: ProxyDeps,
  target: UpstreamTarget,
  block: SseBlock,
  request: FastifyRequest,
): Buffer {
  const data = block.data as string;
  const own = `${request.protocol}://${request.headers.host ?? 'localhost'}`;
  const rewritten = deps.upstreams.endpointForClient(target.upstream, data, own);
  if (rewritten === data) return block.raw;
  const lines = [`event: endpoint`, `data: ${rewritten}`];
  if (block.id !== undefined) lines.push(`id: ${block.id}`);
  return Buffer.from(`${lines.join('\n')}\n\n`);
}

function throttle(
  deps: ProxyDeps,
  agentId: string,
  entry: QuarantineEntry,
  now: number,
): Refusal | undefined {
  if (deps.softLimiter.available(agentId, deps.softCallsPerMinute, now)) {
    deps.softLimiter.take(agentId, deps.softCallsPerMinute, now);
    return undefined;
  }
  return {
    code: PROXY_ERROR.agentThrottled,
    rule: 'soft_containment',
    policy: entry.infection_id ?? 'containment',
    message: `agent ${agentId} is contained: at most ${deps.softCallsPerMinute} tool calls per minute (${entry.reason})`,
  };
}

function quarantineError(id: JsonRpcId | null, agentId: string, entry: QuarantineEntry): ErrorObject {
  return errorObject(id, PROXY_ERROR.agentQuarantined, `agent ${agentId} is quarantined: ${entry.reason}`, {
    agent_id: agentId,
    state: entry.state,
    reason: entry.reason,
    since: entry.since,
    ...(entry.infection_id === undefined ? {} : { incident_id: entry.infection_id }),
  });
}

/** One error per request of the body (none for notifications); a body without requests gets one with id null. */
function quarantineErrors(
  facts: RequestFacts,
  agentId: string,
  entry: QuarantineEntry,
): ErrorObject | ErrorObject[] {
  if (facts.batch && facts.requestIds.length > 0)
    return facts.requestIds.map((id) => quarantineError(id, agentId, entry));
  return quarantineError(facts.requestIds[0] ?? null, agentId, entry);
}

/** A refused call refuses its whole body: the proxy never forwards half a batch. */
function policyErrors(facts: RequestFacts, tool: string, refusal: Refusal): ErrorObject | ErrorObject[] {
  const data = { rule: refusal.rule, policy: refusal.policy, tool };
  const make = (id: JsonRpcId | null) => errorObject(id, refusal.code, refusal.message, data);
  if (facts.batch && facts.requestIds.length > 0) return facts.requestIds.map(make);
  return make(facts.requestIds[0] ?? null);
}

class ClientStalled extends Error {}
class UpstreamIdle extends Error {}

/** Writes and, when the socket's buffer is full, waits for it to drain; false when the client never reads. */
function writeWithBackpressure(
  res: ServerResponse,
  bytes: Buffer,
  stallMs: number,
): Promise<boolean> | boolean {
  if (res.destroyed) return false;
  if (res.write(bytes)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), stallMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Fires when no chunk arrived for `ms` (JSON bodies only: SSE streams may rightly be silent for hours). */
class IdleTimer {
  private readonly timer: NodeJS.Timeout;
  constructor(ms: number, onIdle: () => void) {
    this.timer = setTimeout(onIdle, ms);
  }
  touch(): void {
    this.timer.refresh();
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

function ownIdKey(id: JsonRpcId): string {
  return `${typeof id}:${id}`;
}
