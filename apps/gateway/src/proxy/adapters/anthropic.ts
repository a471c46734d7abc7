import { systemPromptOf } from '@immune/core';
import { MessagesStreamTap, observeMessage } from '../../extract/anthropic.js';
import { rewriteRequest } from '../rewrite.js';
import { errorClass } from './errors.js';
import { toolNamesOf } from './openai.js';
import type { ApiAdapter, Operation } from './types.js';

const MESSAGES: Operation = { kind: 'messages', name: 'chat' };

/** Anthropic's Messages API; token counting, batches and models pass through. */
export const anthropicAdapter: ApiAdapter = {
  family: 'anthropic',
  framing: 'sse',
  operation: (path) => (path === '/v1/messages' ? MESSAGES : undefined),
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  rewrite: (_operation, body, mutations) => rewriteRequest('messages', body, mutations),
  systemPrompt: (_operation, body) => systemPromptOf('messages', body),
  toolNames: toolNamesOf,
  observe: (_operation, status, body, model) => observeMessage(status, body, model),
  streamTap: (_operation, model) => new MessagesStreamTap(model),
  errorBody(status, code, message) {
    return JSON.stringify({
      type: 'error',
      error: { type: errorClass(status, 'api_error'), message: `${message} [${code}]` },
    });
  },
  streamError(status, code, message) {
    return `event: error\ndata: ${this.errorBody(status, code, message)}\n\n`;
  },
};
