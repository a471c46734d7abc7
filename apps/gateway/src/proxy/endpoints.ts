import type { ApiKind } from '../extract/fingerprint.js';
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

/** Which API a path belongs to. Any other /v1 path is passed through to the OpenAI-family provider. */
export function endpointOf(path: string): Endpoint {
  const exact = EXACT[path];
  if (exact) return exact;
  // Anthropic's other endpoints (token counting, batches) live under /v1/messages/.
  return path.startsWith('/v1/messages/') ? OTHER_ANTHROPIC : OTHER_OPENAI;
}
