import type { ApiKind } from '@immune/core';
import { isRecord } from '../extract/observation.js';
import type { Mutations } from '../policy/policy-engine.js';

export interface Rewrite {
  /** The body to send upstream; `undefined` means the original bytes, untouched. */
  body: Record<string, unknown> | undefined;
  /** The gateway asked for usage the client did not ask for, and must hide it again. */
  hideUsage: boolean;
}

function toolName(tool: unknown): string | undefined {
  if (!isRecord(tool)) return undefined;
  if (isRecord(tool.function) && typeof tool.function.name === 'string') return tool.function.name;
  return typeof tool.name === 'string' ? tool.name : undefined;
}

/** The request fields that carry an output-token limit, per API. */
function maxTokenFields(kind: ApiKind, model: unknown): string[] {
  if (kind === 'responses') return ['max_output_tokens'];
  if (kind === 'chat') {
    // o-series models reject max_tokens; everything else accepts it, including OpenAI-compatible servers.
    return typeof model === 'string' && /^o\d/.test(model)
      ? ['max_completion_tokens']
      : ['max_completion_tokens', 'max_tokens'];
  }
  return ['max_tokens'];
}

/** The copy of the body to change, made on the first change (a plain function: no closure per call). */
function writable(body: Record<string, unknown>, next: Record<string, unknown> | undefined) {
  return next ?? { ...body };
}

/**
 * Applies the policy mutations and the usage injection to a parsed request body. Bodies are rewritten only
 * when something changes, so an unaffected request reaches the upstream byte for byte.
 */
export function rewriteRequest(kind: ApiKind, body: Record<string, unknown>, mutations: Mutations): Rewrite {
  let next: Record<string, unknown> | undefined;
  let hideUsage = false;

  if (kind === 'chat' && body.stream === true) {
    const options = isRecord(body.stream_options) ? body.stream_options : undefined;
    if (options?.include_usage !== true) {
      next = writable(body, next);
      next.stream_options = { ...options, include_usage: true };
      hideUsage = true;
    }
  }

  if (mutations.model !== undefined && body.model !== mutations.model) {
    next = writable(body, next);
    next.model = mutations.model;
  }

  if (mutations.maxTokens !== undefined && kind !== 'embeddings' && kind !== 'other') {
    const fields = maxTokenFields(kind, mutations.model ?? body.model);
    const present = fields.filter((f) => typeof body[f] === 'number');
    if (present.length === 0) {
      next = writable(body, next);
      next[fields.at(-1)!] = mutations.maxTokens;
    } else {
      for (const field of present) {
        if ((body[field] as number) > mutations.maxTokens) {
          next = writable(body, next);
          next[field] = mutations.maxTokens;
        }
      }
    }
  }

  if (Array.isArray(body.tools) && (mutations.stripTools || mutations.allowTools)) {
    const kept = mutations.stripTools
      ? []
      : body.tools.filter((tool) => {
          const name = toolName(tool);
          return name !== undefined && mutations.allowTools!.has(name);
        });
    if (kept.length !== body.tools.length) {
      const target = writable(body, next);
      next = target;
      if (kept.length === 0) {
        delete target.tools;
        delete target.tool_choice;
        delete target.parallel_tool_calls;
      } else {
        target.tools = kept;
        const choice = toolName(isRecord(body.tool_choice) ? body.tool_choice : undefined);
        if (choice !== undefined && !kept.some((tool) => toolName(tool) === choice))
          target.tool_choice = 'auto';
      }
    }
  }

  return { body: next, hideUsage };
}
