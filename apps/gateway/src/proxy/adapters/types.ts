import type { IncomingHttpHeaders } from 'node:http';
import type { CallObservation } from '../../extract/observation.js';
import type { Mutations } from '../../policy/policy-engine.js';
import type { ApiFamily } from '../../routing/providers.js';

/**
 * One call the gateway understands, as the GenAI semantic conventions name operations (`chat`,
 * `text_completion`, `embeddings`, `generate_content`): these produce a vital; every other path of the family is
 * passed through untouched.
 */
export interface Operation {
  /** Which request shape, for the adapter's own switch (`chat`, `responses`, `messages`, ...). */
  kind: string;
  /** `gen_ai.operation.name` */
  name: 'chat' | 'text_completion' | 'embeddings' | 'generate_content';
}

export interface Rewrite {
  /** The body to send upstream; `undefined` means the original bytes, untouched. */
  body: Record<string, unknown> | undefined;
  /** The gateway asked for usage the client did not ask for, and must hide it again. */
  hideUsage: boolean;
}

/** What to do with one event (SSE) or line (NDJSON) of a stream. */
export type EventDecision = 'forward' | 'drop' | { data: string };

/** One message of a stream: an SSE event, or one NDJSON line (`event` undefined). */
export interface StreamEvent {
  event: string | undefined;
  data: string;
  id: string | undefined;
}

/** Reads a stream as it passes: usage, tools, errors, and the moment of the first generated token. */
export interface StreamTap {
  /** Returns how to forward the event; only consulted when the stream is transformed (`Rewrite.hideUsage`). */
  onEvent(event: StreamEvent): EventDecision;
  result(): CallObservation;
  /** performance.now() at the first event that carried a generated token, in this wire format. */
  readonly firstTokenAt: number | undefined;
}

/**
 * Everything the gateway knows about one API family, in one module: its paths, request rewrites (usage
 * injection, policy mutations), system-prompt extraction, usage taps for bodies and streams, error bodies in
 * the family's own format, and stream framing. The proxy itself knows none of these details.
 */
export interface ApiAdapter {
  readonly family: ApiFamily;
  /** How streams are framed: server-sent events, or newline-delimited JSON (Ollama). */
  readonly framing: 'sse' | 'ndjson';
  /** The operation at a canonical path, or undefined for a pass-through path. */
  operation(path: string): Operation | undefined;
  /** Whether an answer with this content type is a stream to forward event by event. */
  isStream(contentType: string): boolean;
  rewrite(operation: Operation, body: Record<string, unknown>, mutations: Mutations): Rewrite;
  /** The agent's standing instructions; only their SHA-256 leaves the gateway. */
  systemPrompt(operation: Operation, body: Record<string, unknown>): string | undefined;
  /** Tool names the request offers the model (policy allow-lists). */
  toolNames(body: Record<string, unknown>): string[];
  observe(operation: Operation, status: number, body: unknown, model: string | undefined): CallObservation;
  streamTap(operation: Operation, model: string | undefined, hideUsage: boolean): StreamTap;
  /** An error the gateway answers itself, shaped like the provider's so SDKs raise their usual classes. */
  errorBody(status: number, code: string, message: string): string;
  /** The same as the last message of a stream, to end it cleanly (a quarantine). */
  streamError(status: number, code: string, message: string): string;
}

/** Which family a request belongs to, and the path as the provider knows it. */
export interface Routed {
  adapter: ApiAdapter;
  /** The canonical path (`/messages` at the root becomes `/v1/messages`). */
  path: string;
  operation: Operation | undefined;
}

export type RouteRequest = (path: string, headers: IncomingHttpHeaders) => Routed | undefined;
