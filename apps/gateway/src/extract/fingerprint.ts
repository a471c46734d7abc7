import { createHash } from 'node:crypto';
import { isRecord } from './observation.js';

/** Which wire protocol a request speaks; it decides where the system prompt lives. */
export type ApiKind = 'chat' | 'responses' | 'completions' | 'embeddings' | 'messages' | 'other';

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
    .filter((text) => text !== '')
    .join('\n');
}

/**
 * The agent's standing instructions: system and developer messages (chat), `instructions` (Responses) or
 * `system` (Anthropic). A change of this text is what `prompt_change` detects; the text itself never leaves
 * the gateway, only its SHA-256.
 */
export function systemPromptOf(kind: ApiKind, body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  let text = '';
  if (kind === 'chat' && Array.isArray(body.messages)) {
    text = body.messages
      .filter((m) => isRecord(m) && (m.role === 'system' || m.role === 'developer'))
      .map((m) => textOf((m as Record<string, unknown>).content))
      .join('\n');
  } else if (kind === 'responses') {
    text = textOf(body.instructions);
    if (Array.isArray(body.input)) {
      const system = body.input
        .filter((m) => isRecord(m) && (m.role === 'system' || m.role === 'developer'))
        .map((m) => textOf((m as Record<string, unknown>).content))
        .join('\n');
      text = [text, system].filter((t) => t !== '').join('\n');
    }
  } else if (kind === 'messages') {
    text = textOf(body.system);
  }
  return text === '' ? undefined : text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Identifies a repeated request: the same agent sending the same bytes to the same path. */
export function requestHashOf(agentId: string, path: string, body: Uint8Array | string): string {
  return createHash('sha256')
    .update(agentId)
    .update('\0')
    .update(path)
    .update('\0')
    .update(body)
    .digest('hex')
    .slice(0, 32);
}
