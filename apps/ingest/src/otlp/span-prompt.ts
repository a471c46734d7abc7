import { systemPromptOf } from '@immune/core';
import { indexed, listOf, structuredOf } from './attributes.js';
import type { Attributes } from './model.js';

/*
 * The system prompt of an LLM span, where the instrumentation captured message content. Each dialect's
 * messages are rebuilt as a chat request's `messages` and handed to core's `systemPromptOf`, the gateway's own
 * function, so one prompt gives one `prompt_hash` whichever way the call was observed.
 */

type ChatMessage = { role: string; content: unknown };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** GenAI semconv parts (`{type:'text', content}`) as chat content parts (`{type:'text', text}`). */
function partsAsContent(parts: unknown): unknown {
  if (!Array.isArray(parts)) return parts;
  return parts.map((part) =>
    isRecord(part) && part.type === 'text' && typeof part.content === 'string'
      ? { type: 'text', text: part.content }
      : part,
  );
}

/** Traceloop and OpenInference store non-text content as a JSON string of parts; plain text stays text. */
function contentOf(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const structured = structuredOf(value);
  return Array.isArray(structured) ? structured : value;
}

/** Each dialect's way of writing the request messages, tried in order; the first that yields messages wins. */
const MESSAGE_READERS: ReadonlyArray<(attributes: Attributes) => ChatMessage[] | undefined> = [
  // GenAI semconv ≥ 1.37: instructions kept apart from the messages.
  (attributes) => {
    const parts = listOf(attributes.get('gen_ai.system_instructions'));
    if (parts.length === 0) return undefined;
    return [
      {
        role: 'system',
        content: partsAsContent(parts.map((p) => (typeof p === 'string' ? { type: 'text', content: p } : p))),
      },
    ];
  },
  // GenAI semconv ≥ 1.37: `gen_ai.input.messages` as [{ role, parts }].
  (attributes) => {
    const messages = listOf(attributes.get('gen_ai.input.messages'));
    if (messages.length === 0) return undefined;
    return messages.filter(isRecord).map((m) => ({ role: String(m.role), content: partsAsContent(m.parts) }));
  },
  // Traceloop / OpenLLMetry: gen_ai.prompt.<i>.role / .content.
  (attributes) => {
    const rows = indexed(attributes, 'gen_ai.prompt.');
    if (rows.length === 0) return undefined;
    return rows.map((row) => ({ role: String(row.role ?? ''), content: contentOf(row.content) }));
  },
  // OpenInference: llm.input_messages.<i>.message.role / .message.content (or .message.contents.<j>…).
  (attributes) => {
    const rows = indexed(attributes, 'llm.input_messages.');
    if (rows.length === 0) return undefined;
    return rows.map((row) => {
      if (row['message.content'] !== undefined)
        return { role: String(row['message.role'] ?? ''), content: contentOf(row['message.content']) };
      const texts = Object.entries(row)
        .filter(([key]) => /^message\.contents\.\d+\.message_content\.text$/.test(key))
        .sort((a, b) => contentIndex(a[0]) - contentIndex(b[0]))
        .map(([, text]) => ({ type: 'text', text }));
      return { role: String(row['message.role'] ?? ''), content: texts };
    });
  },
  // Vercel AI SDK: ai.prompt.messages as a JSON string of the provider-neutral messages.
  (attributes) => {
    const messages = listOf(attributes.get('ai.prompt.messages'));
    if (messages.length === 0) return undefined;
    return messages.filter(isRecord).map((m) => ({ role: String(m.role), content: m.content }));
  },
];

function contentIndex(key: string): number {
  return Number(key.split('.')[2]);
}

/** The span's system prompt, or undefined when it captured no system/developer message. */
export function spanSystemPrompt(attributes: Attributes): string | undefined {
  for (const read of MESSAGE_READERS) {
    const messages = read(attributes);
    if (messages === undefined) continue;
    const prompt = systemPromptOf('chat', { messages });
    if (prompt !== undefined) return prompt;
  }
  return undefined;
}
