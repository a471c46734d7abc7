import { systemPromptOf } from '@immune/core';
import { isRecord } from '../../extract/observation.js';
import { ChatStreamTap, observeChatCompletion } from '../../extract/openai-chat.js';
import { observeResponse, ResponsesStreamTap } from '../../extract/openai-responses.js';
import { rewriteRequest } from '../rewrite.js';
import { errorClass } from './errors.js';
import type { ApiAdapter, Operation } from './types.js';

const OPERATIONS: Record<string, Operation> = {
  '/v1/chat/completions': { kind: 'chat', name: 'chat' },
  '/v1/responses': { kind: 'responses', name: 'chat' },
  '/v1/completions': { kind: 'completions', name: 'text_completion' },
  '/v1/embeddings': { kind: 'embeddings', name: 'embeddings' },
};

/** The name of an OpenAI-style tool (`{ function: { name } }` in chat, `{ name }` in Responses). */
export function toolNameOf(tool: unknown): string | undefined {
  if (!isRecord(tool)) return undefined;
  if (isRecord(tool.function) && typeof tool.function.name === 'string') return tool.function.name;
  return typeof tool.name === 'string' ? tool.name : undefined;
}

export function toolNamesOf(body: Record<string, unknown>): string[] {
  if (!Array.isArray(body.tools)) return [];
  const names: string[] = [];
  for (const tool of body.tools) {
    const name = toolNameOf(tool);
    if (name !== undefined) names.push(name);
  }
  return names;
}

/**
 * OpenAI's API family: chat completions, Responses, legacy completions and embeddings, at OpenAI itself, Azure,
 * Gemini's OpenAI-compatible endpoint and any OpenAI-compatible server (vLLM, LiteLLM, Ollama's /v1).
 */
export const openAiAdapter: ApiAdapter = {
  family: 'openai',
  framing: 'sse',
  operation: (path) => OPERATIONS[path],
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  rewrite: (operation, body, mutations) => rewriteRequest(operation.kind as 'chat', body, mutations),
  systemPrompt: (operation, body) => systemPromptOf(operation.kind as 'chat', body),
  toolNames: toolNamesOf,
  observe(operation, status, body, model) {
    // Completions and embeddings report usage the way chat does.
    return operation.kind === 'responses'
      ? observeResponse(status, body, model)
      : observeChatCompletion(status, body, model);
  },
  streamTap: (operation, model, hideUsage) =>
    operation.kind === 'responses' ? new ResponsesStreamTap(model) : new ChatStreamTap(model, hideUsage),
  errorBody(status, code, message) {
    return JSON.stringify({
      error: { message, type: errorClass(status, 'server_error'), param: null, code },
    });
  },
  streamError(status, code, message) {
    return `data: ${this.errorBody(status, code, message)}\n\n`;
  },
};
