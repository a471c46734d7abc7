import type { IncomingHttpHeaders } from 'node:http';
import type { ApiKind } from '@immune/core';
import type { ApiFamily } from '../routing/providers.js';

export interface Endpoint {
  kind: ApiKind;
  family: ApiFamily;
  /** Generation and embedding calls produce a vital; listing models or files does not. */
  vital: boolean;
}

const EXACT: Record<string, Endpoint> = {
  '/v1/chat/completions': { kind: 'chat', family: 'openai', vital: true },
  '/v1/responses': { kind: 'responses', family: 'openai', vital: true },
  '/v1/completions': { kind: 'completions', family: 'openai', vital: true },
  '/v1/embeddings': { kind: 'embeddings', family: 'openai', vital: true },
  '/v1/messages': { kind: 'messages', family: 'anthropic', vital: true },
};

const OTHER_OPENAI: Endpoint = { kind: 'other', family: 'openai', vital: false };
const OTHER_ANTHROPIC: Endpoint = { kind: 'other', family: 'anthropic', vital: false };

/** Paths served at the root as well as under /v1: clients whose Anthropic base URL ends in /v1 drop it. */
export const ROOT_ANTHROPIC_PREFIXES = ['/messages', '/models'] as const;

/**
 * The path as the provider knows it. Anthropic clients configured with a base URL that already ends in /v1
 * (the Vercel AI SDK's default shape) call `/messages`; the provider's path is `/v1/messages`.
 */
export function canonicalPath(path: string): string {
  return path.startsWith('/v1/') || path === '/v1' ? path : `/v1${path}`;
}

/**
 * Which API a canonical path belongs to. `/v1/models` is shared by both families: Anthropic clients always
 * send `anthropic-version`, OpenAI clients never do. Any other /v1 path goes to the OpenAI-family provider.
 */
export function endpointOf(path: string, headers: IncomingHttpHeaders): Endpoint {
  const exact = EXACT[path];
  if (exact) return exact;
  // Anthropic's other endpoints (token counting, batches) live under /v1/messages/.
  if (path.startsWith('/v1/messages/')) return OTHER_ANTHROPIC;
  if ((path === '/v1/models' || path.startsWith('/v1/models/')) && headers['anthropic-version'] !== undefined)
    return OTHER_ANTHROPIC;
  return OTHER_OPENAI;
}
