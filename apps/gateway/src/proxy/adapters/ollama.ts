import { systemPromptOf } from '@immune/core';
import { isRecord } from '../../extract/observation.js';
import { OllamaStreamTap, observeOllama } from '../../extract/ollama.js';
import { rewriteRequest } from '../rewrite.js';
import { toolNamesOf } from './openai.js';
import type { ApiAdapter, Operation } from './types.js';

const OPERATIONS: Record<string, Operation> = {
  '/api/chat': { kind: 'chat', name: 'chat' },
  '/api/generate': { kind: 'generate', name: 'text_completion' },
  '/api/embed': { kind: 'embed', name: 'embeddings' },
  '/api/embeddings': { kind: 'embed', name: 'embeddings' },
};

/**
 * Ollama's native API (`/api/chat`, `/api/generate`, `/api/embed`; `/api/tags`, `/api/show` and the rest pass
 * through). Streams are newline-delimited JSON, on by default; usage comes on the last line. Clients point
 * `OLLAMA_HOST` at the gateway.
 */
export const ollamaAdapter: ApiAdapter = {
  family: 'ollama',
  framing: 'ndjson',
  operation: (path) => OPERATIONS[path],
  isStream: (contentType) => contentType.startsWith('application/x-ndjson'),
  rewrite(operation, body, mutations) {
    // Model pins and tool rules have the OpenAI shape; the output limit is `options.num_predict`.
    const { maxTokens, ...rest } = mutations;
    const rewritten = rewriteRequest('embeddings', body, rest);
    if (maxTokens === undefined || operation.kind === 'embed') return rewritten;
    const base = rewritten.body ?? body;
    const options = isRecord(base.options) ? base.options : {};
    const current = typeof options.num_predict === 'number' ? options.num_predict : undefined;
    // num_predict -1 or absent means unlimited.
    if (current !== undefined && current >= 0 && current <= maxTokens) return rewritten;
    return { body: { ...base, options: { ...options, num_predict: maxTokens } }, hideUsage: false };
  },
  systemPrompt: (operation, body) =>
    operation.kind === 'generate' ? systemPromptOf('messages', body) : systemPromptOf('chat', body),
  toolNames: toolNamesOf,
  observe: (_operation, status, body, model) => observeOllama(status, body, model),
  streamTap: (_operation, model) => new OllamaStreamTap(model),
  errorBody: (_status, code, message) => JSON.stringify({ error: `${message} [${code}]` }),
  streamError(status, code, message) {
    return `${this.errorBody(status, code, message)}\n`;
  },
};
