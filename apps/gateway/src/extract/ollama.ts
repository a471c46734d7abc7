import type { EventDecision, StreamEvent, StreamTap } from '../proxy/adapters/types.js';
import { type CallObservation, emptyObservation, isRecord, numberOr, stringOr } from './observation.js';

/**
 * Ollama's native API reports usage on its last object (`done: true`): `prompt_eval_count` input tokens and
 * `eval_count` output tokens; `/api/embed` reports only `prompt_eval_count`.
 */
function fill(observation: CallObservation, body: Record<string, unknown>): void {
  observation.model = stringOr(body.model, observation.model);
  if (typeof body.prompt_eval_count === 'number') observation.input_tokens = numberOr(body.prompt_eval_count);
  if (typeof body.eval_count === 'number') observation.output_tokens = numberOr(body.eval_count);
  const message = isRecord(body.message) ? body.message : undefined;
  if (message && Array.isArray(message.tool_calls)) observation.tool_calls += message.tool_calls.length;
}

/** Ollama answers errors as `{ "error": "text" }`; the status says what kind. */
export function ollamaErrorType(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limit_error';
  return `http_${status}`;
}

export function observeOllama(
  status: number,
  body: unknown,
  requestedModel: string | undefined,
): CallObservation {
  const observation = emptyObservation(requestedModel);
  if (status >= 400) {
    observation.error_type = ollamaErrorType(status);
    return observation;
  }
  if (!isRecord(body)) {
    observation.error_type = 'invalid_response';
    return observation;
  }
  fill(observation, body);
  return observation;
}

function carriesToken(line: Record<string, unknown>): boolean {
  const message = isRecord(line.message) ? line.message : undefined;
  const text = (value: unknown) => typeof value === 'string' && value !== '';
  return (
    text(line.response) ||
    text(line.thinking) ||
    (message !== undefined &&
      (text(message.content) || text(message.thinking) || Array.isArray(message.tool_calls)))
  );
}

/** Reads an NDJSON stream of `/api/chat` or `/api/generate` objects, one per line. */
export class OllamaStreamTap implements StreamTap {
  private readonly observation: CallObservation;
  private done = false;
  firstTokenAt: number | undefined;

  constructor(requestedModel: string | undefined) {
    this.observation = emptyObservation(requestedModel);
  }

  onEvent(event: StreamEvent): EventDecision {
    let line: unknown;
    try {
      line = JSON.parse(event.data);
    } catch {
      return 'forward';
    }
    if (!isRecord(line)) return 'forward';
    if (line.error !== undefined) {
      this.observation.error_type = 'stream_error';
      this.done = true;
      return 'forward';
    }
    if (this.firstTokenAt === undefined && carriesToken(line)) this.firstTokenAt = performance.now();
    fill(this.observation, line);
    if (line.done === true) this.done = true;
    return 'forward';
  }

  result(): CallObservation & { usageMissing: boolean } {
    return { ...this.observation, usageMissing: !this.done };
  }
}
