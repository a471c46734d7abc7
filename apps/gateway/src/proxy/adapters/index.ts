import type { IncomingHttpHeaders } from 'node:http';
import { anthropicAdapter } from './anthropic.js';
import { ollamaAdapter } from './ollama.js';
import { openAiAdapter } from './openai.js';
import type { Routed } from './types.js';

export type { ApiAdapter, EventDecision, Operation, Rewrite, StreamEvent, StreamTap } from './types.js';

/** Anthropic paths served at the root too, for clients whose base URL already ends in /v1. */
const ROOT_ANTHROPIC = ['/messages', '/models'];

const startsWithSegment = (path: string, prefix: string) =>
  path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47);

/**
 * Which API family a request speaks, from its path: `/v1/messages...` is Anthropic, so is `/v1/models` when the
 * request carries `anthropic-version` (every Anthropic client sends it, no OpenAI client does); `/api/...` is
 * Ollama's native API (except the gateway's own `/api/gateway`); any other `/v1/...` is OpenAI's. Returns
 * undefined for a path the proxy does not serve.
 */
export function routeRequest(path: string, headers: IncomingHttpHeaders): Routed | undefined {
  if (startsWithSegment(path, '/v1')) {
    if (
      startsWithSegment(path, '/v1/messages') ||
      (startsWithSegment(path, '/v1/models') && headers['anthropic-version'] !== undefined)
    )
      return { adapter: anthropicAdapter, path, operation: anthropicAdapter.operation(path) };
    return { adapter: openAiAdapter, path, operation: openAiAdapter.operation(path) };
  }
  if (startsWithSegment(path, '/api')) {
    if (startsWithSegment(path, '/api/gateway')) return undefined;
    return { adapter: ollamaAdapter, path, operation: ollamaAdapter.operation(path) };
  }
  for (const prefix of ROOT_ANTHROPIC) {
    if (startsWithSegment(path, prefix)) {
      const canonical = `/v1${path}`;
      return { adapter: anthropicAdapter, path: canonical, operation: anthropicAdapter.operation(canonical) };
    }
  }
  return undefined;
}
