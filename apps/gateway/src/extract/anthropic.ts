import type { EventDecision, StreamEvent, StreamTap } from '../proxy/adapters/types.js';
import {
  type CallObservation,
  emptyObservation,
  errorOrBody,
  errorTypeOf,
  isRecord,
  numberOr,
  stringOr,
} from './observation.js';

/** Prompt tokens include cache writes and reads: they are all tokens the model processed. */
function inputTokens(usage: Record<string, unknown>): number {
  return (
    numberOr(usage.input_tokens) +
    numberOr(usage.cache_creation_input_tokens) +
    numberOr(usage.cache_read_input_tokens)
  );
}

/** A non-streamed Anthropic Messages result (or its error body). */
export function observeMessage(status: number, rawBody: unknown, requestedModel?: string): CallObservation {
  const checked = errorOrBody(status, rawBody, requestedModel, (body) => body.type === 'error');
  const { observation } = checked;
  if (!checked.body) return observation;
  const body = checked.body;
  observation.model = stringOr(body.model, requestedModel);
  if (isRecord(body.usage)) {
    observation.input_tokens = inputTokens(body.usage);
    observation.output_tokens = numberOr(body.usage.output_tokens);
  }
  if (Array.isArray(body.content)) {
    observation.tool_calls = body.content.filter(
      (block) => isRecord(block) && block.type === 'tool_use',
    ).length;
  }
  return observation;
}

/** Messages streams: input from `message_start`, cumulative output from `message_delta`, tools from blocks. */
export class MessagesStreamTap implements StreamTap {
  private readonly observation: CallObservation;
  private sawStop = false;
  /** performance.now() at the first `content_block_delta` (text, tool input or thinking). */
  firstTokenAt: number | undefined;

  constructor(requestedModel: string | undefined) {
    this.observation = emptyObservation(requestedModel);
  }

  onEvent(event: StreamEvent): EventDecision {
    // Text deltas are most of a stream and carry nothing to count: no need to parse them.
    if (event.event === 'content_block_delta') {
      this.firstTokenAt ??= performance.now();
      return 'forward';
    }
    if (event.event === 'ping') return 'forward';
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return 'forward';
    }
    if (!isRecord(payload)) return 'forward';
    switch (payload.type) {
      case 'message_start': {
        const message = isRecord(payload.message) ? payload.message : {};
        this.observation.model = stringOr(message.model, this.observation.model);
        if (isRecord(message.usage)) {
          this.observation.input_tokens = inputTokens(message.usage);
          this.observation.output_tokens = numberOr(message.usage.output_tokens);
        }
        break;
      }
      case 'content_block_delta':
        this.firstTokenAt ??= performance.now();
        break;
      case 'content_block_start':
        if (isRecord(payload.content_block) && payload.content_block.type === 'tool_use')
          this.observation.tool_calls++;
        break;
      case 'message_delta':
        // Output tokens in message_delta are cumulative for the whole message.
        if (isRecord(payload.usage)) {
          this.observation.output_tokens = numberOr(
            payload.usage.output_tokens,
            this.observation.output_tokens,
          );
          if (typeof payload.usage.input_tokens === 'number')
            this.observation.input_tokens = inputTokens(payload.usage);
        }
        break;
      case 'message_stop':
        this.sawStop = true;
        break;
      case 'error':
        this.observation.error_type = errorTypeOf(200, payload);
        this.sawStop = true;
        break;
    }
    return 'forward';
  }

  result(): CallObservation & { usageMissing: boolean } {
    return { ...this.observation, usageMissing: !this.sawStop };
  }
}
