import { createHash } from 'node:crypto';
import type { KvBucket, McpPendingCall } from '@immune/bus';
import type { Vital } from '@immune/core';
import { idKey, type JsonRpcId } from './jsonrpc.js';
import { type CallOutcome, type ToolCall, toolVital } from './tool-call.js';

/**
 * Where an id lives. Client ids are unique per session (Streamable HTTP `Mcp-Session-Id`, legacy `sessionId`),
 * or per HTTP exchange when there is no session (stateless servers, 2026-07-28), so the scope is one of those.
 */
export type Scope = { session: string } | { exchange: string };

interface Pending {
  call: ToolCall;
  rawId: JsonRpcId;
  /** The JSON-RPC id in key form (`idKey`). */
  id: string;
  session: string | undefined;
  /** Written to the pending bucket, so another replica may settle it. */
  shared: boolean;
  /** The HTTP exchange that carried the request is still open (its stream may yet bring the result). */
  open: boolean;
  /** That exchange ended because the client went away. */
  clientGone: boolean;
}

export interface CorrelatorDeps {
  publish(vital: Vital): void;
  /** The pending bucket; until `useBucket`, calls are matched on this replica only. */
  bucket: KvBucket<McpPendingCall> | undefined;
  now(): number;
  /** A call whose exchange has ended is settled as timed out after this long. */
  pendingTimeoutMs: number;
  onError(error: unknown, what: string): void;
}

/** Waits before looking the pending bucket up again: the requesting replica may not have written it yet. */
const REMOTE_LOOKUP_DELAYS_MS = [0, 50, 150, 400, 1000, 2000, 4000];

/**
 * Matches each `tools/call` to its result, exactly once, and publishes its vital. Keys are (agent, scope,
 * direction, id type, id): server-to-client requests have their own id space, and `"1"` is not `1`. A result
 * seen by another replica than the request (legacy SSE, resumed streams) is matched through the pending bucket.
 */
export class Correlator {
  private readonly pending = new Map<string, Pending>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deps: CorrelatorDeps) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, Math.max(50, deps.pendingTimeoutMs / 4)));
    this.sweeper.unref();
  }

  useBucket(bucket: KvBucket<McpPendingCall>): void {
    this.deps.bucket = bucket;
  }

  static key(agentId: string, scope: Scope, id: JsonRpcId): string {
    const where = 'session' in scope ? `s\0${scope.session}` : `x\0${scope.exchange}`;
    return `${agentId}\0${where}\0c2s\0${idKey(id)}`;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A request was forwarded. A second request with the same key replaces the first (a client bug). */
  track(key: string, id: JsonRpcId, call: ToolCall, scope: Scope): void {
    this.pending.set(key, {
      call,
      rawId: id,
      id: idKey(id),
      session: 'session' in scope ? scope.session : undefined,
      shared: false,
      open: true,
      clientGone: false,
    });
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /**
   * A result (or error) for `key`. Returns whether this replica knew the call; an `input_required` answer
   * (2026-07-28 multi round-trip) ends the round, not the call, so it publishes nothing.
   */
  settle(key: string, outcome: CallOutcome | 'input_required'): boolean {
    const entry = this.pending.get(key);
    if (entry === undefined) return false;
    this.pending.delete(key);
    if (outcome !== 'input_required') this.deps.publish(toolVital(entry.call, outcome, this.deps.now()));
    if (entry.shared) this.forget(entry);
    return true;
  }

  /**
   * A result whose request this replica did not see: look for it in the pending bucket (the requesting replica
   * may still be writing it, hence a few tries), publish the vital and delete the entry.
   */
  settleRemote(
    agentId: string,
    session: string,
    id: JsonRpcId,
    outcome: CallOutcome | 'input_required',
  ): void {
    const bucket = this.deps.bucket;
    if (bucket === undefined) return;
    const key = remoteKey(agentId, session, idKey(id));
    const attempt = async (n: number): Promise<void> => {
      const local = Correlator.key(agentId, { session }, id);
      if (this.settle(local, outcome)) return;
      const found = await bucket.get(key);
      if (found === undefined || found.agent_id !== agentId || found.session !== session) {
        const delay = REMOTE_LOOKUP_DELAYS_MS[n + 1];
        if (delay !== undefined) setTimeout(() => void run(n + 1), delay).unref();
        return;
      }
      await bucket.delete(key);
      if (outcome === 'input_required') return;
      this.deps.publish(toolVital(fromShared(found), outcome, this.deps.now()));
    };
    const run = (n: number) =>
      attempt(n).catch((error: unknown) => this.deps.onError(error, 'pending lookup'));
    void run(0);
  }

  /**
   * The exchange that carried `key` ended before its result. With a session the result may still come (on a
   * resumed or legacy GET stream, possibly through another replica): the call is shared and waits. Without a
   * session nothing can bring it any more: it is settled now.
   */
  exchangeEnded(key: string, clientGone: boolean, errorTypeIfFinal: string): void {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    entry.open = false;
    entry.clientGone = clientGone;
    if (entry.session === undefined) {
      this.settle(key, { success: false, errorType: errorTypeIfFinal });
      return;
    }
    this.share(entry);
  }

  /** Shares a session's call at once (legacy HTTP+SSE: the result always comes on the other stream). */
  shareNow(key: string): void {
    const entry = this.pending.get(key);
    if (entry !== undefined) this.share(entry);
  }

  /** Calls of one agent and session that this replica is waiting for (a stream being cut answers them). */
  pendingIn(agentId: string, session: string): Array<{ key: string; id: JsonRpcId }> {
    const found: Array<{ key: string; id: JsonRpcId }> = [];
    for (const [key, entry] of this.pending)
      if (entry.call.agentId === agentId && entry.session === session) found.push({ key, id: entry.rawId });
    return found;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private share(entry: Pending): void {
    const bucket = this.deps.bucket;
    if (bucket === undefined || entry.shared || entry.session === undefined) return;
    entry.shared = true;
    const { call } = entry;
    const value: McpPendingCall = {
      agent_id: call.agentId,
      session: entry.session,
      tool: call.tool.slice(0, 256),
      server: call.server,
      started_at: Math.floor(call.startedAt),
      request_hash: call.requestHash,
      vital_id: call.vitalId,
      ...(call.traceId === undefined ? {} : { trace_id: call.traceId }),
    };
    bucket
      .put(remoteKeyOfCall(entry), value)
      .catch((error: unknown) => this.deps.onError(error, 'pending share'));
  }

  private forget(entry: Pending): void {
    this.deps.bucket
      ?.delete(remoteKeyOfCall(entry))
      .catch((error: unknown) => this.deps.onError(error, 'pending delete'));
  }

  /** Settles calls whose exchange ended long ago and whose result never came. */
  private sweep(): void {
    const now = this.deps.now();
    for (const [key, entry] of this.pending) {
      if (entry.open || now - entry.call.startedAt < this.deps.pendingTimeoutMs) continue;
      this.pending.delete(key);
      const outcome: CallOutcome = {
        success: false,
        errorType: entry.clientGone ? 'client_aborted' : 'upstream_timeout',
      };
      if (!entry.shared || this.deps.bucket === undefined) {
        this.deps.publish(toolVital(entry.call, outcome, now));
        continue;
      }
      // Shared: another replica may have settled it (and deleted the entry) in the meantime.
      const bucket = this.deps.bucket;
      const remote = remoteKeyOfCall(entry);
      bucket
        .get(remote)
        .then(async (found) => {
          if (found === undefined) return;
          await bucket.delete(remote);
          this.deps.publish(toolVital(entry.call, outcome, this.deps.now()));
        })
        .catch((error: unknown) => this.deps.onError(error, 'pending sweep'));
    }
  }
}

function remoteKeyOfCall(entry: Pending): string {
  return remoteKey(entry.call.agentId, entry.session ?? '', entry.id);
}

/** The bucket key: NATS keys allow few characters, and agent ids and session ids are free text. */
function remoteKey(agentId: string, session: string, id: string): string {
  return createHash('sha256').update(`${agentId}\0${session}\0${id}`).digest('hex').slice(0, 40);
}

function fromShared(found: McpPendingCall): ToolCall {
  return {
    agentId: found.agent_id,
    tool: found.tool,
    server: found.server,
    startedAt: found.started_at,
    requestHash: found.request_hash,
    traceId: found.trace_id,
    vitalId: found.vital_id,
  };
}
