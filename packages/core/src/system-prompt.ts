import { createHash } from 'node:crypto';

/** Which LLM wire protocol a request speaks; it decides where the system prompt lives. */
export type ApiKind = 'chat' | 'responses' | 'completions' | 'embeddings' | 'messages' | 'other';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message's text: a string, or the `text` of its parts joined by newlines (non-text parts are skipped). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
    .filter((text) => text !== '')
    .join('\n');
}

/** The system and developer messages of a chat-style message list, joined by newlines. */
function systemMessagesText(messages: readonly unknown[]): string {
  return messages
    .filter((m) => isRecord(m) && (m.role === 'system' || m.role === 'developer'))
    .map((m) => textOf((m as Record<string, unknown>).content))
    .join('\n');
}

/**
 * The agent's standing instructions: system and developer messages (chat), `instructions` (Responses) or
 * `system` (Anthropic). A change of this text is what `prompt_change` detects. Every service that makes vitals
 * (gateway, ingest's OTLP receiver) derives it here and hashes it with `promptHashOf`, so one prompt hashes the
 * same whichever way the call was observed; the text itself never leaves the service that saw it.
 */
export function systemPromptOf(kind: ApiKind, body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  let text = '';
  if (kind === 'chat' && Array.isArray(body.messages)) {
    text = systemMessagesText(body.messages);
  } else if (kind === 'responses') {
    text = textOf(body.instructions);
    if (Array.isArray(body.input)) {
      const system = systemMessagesText(body.input);
      text = [text, system].filter((t) => t !== '').join('\n');
    }
  } else if (kind === 'messages') {
    text = textOf(body.system);
  }
  return text === '' ? undefined : text;
}

/** `prompt_hash`: the SHA-256 hex of a system prompt (UTF-8), the same in every service that makes vitals. */
export function promptHashOf(systemPrompt: string): string {
  return createHash('sha256').update(systemPrompt, 'utf8').digest('hex');
}
