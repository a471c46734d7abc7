import type { EventDecision, StreamEvent, StreamTap } from '../proxy/adapters/types.js';
import {
  type CallObservation,
  emptyObservation,
  errorOrBody,
  isRecord,
  numberOr,
  stringOr,
} from './observation.js';

/** A non-streamed Responses API result, or the `response` inside `response.completed`. */
export function observeResponse(status: number, rawBody: unknown, requestedModel?: string): CallObservation {
  const checked = errorOrBody(status, rawBody, requestedModel);
  const { observation } = checked;
  if (!checked.body) return observation;
  const body = checked.body;
  fill(observation, body);
  return observation;
}

function fill(observation: CallObservation, response: Record<string, unknown>): void {
  observation.model = stringOr(response.model, observation.model);
  if (isRecord(response.usage)) {
    observation.input_tokens = numberOr(response.usage.input_tokens);
    observation.output_tokens = numberOr(response.usage.output_tokens);
    observation.total_tokens =
      typeof response.usage.total_tokens === 'number' ? response.usage.total_tokens : undefined;
  }
  if (Array.isArray(response.output)) {
    observation.tool_calls = response.output.filter(
      (item) => isRecord(item) && typeof item.type === 'string' && item.type.endsWith('_call'),
    ).length;
  }
  if (response.status === 'failed' || response.status === 'incomplete') {
    const error = isRecord(response.error) ? response.error : undefined;
    observation.error_type =
      stringOr(error?.code) ??
      (isRecord(response.incomplete_details) ? stringOr(response.incomplete_details.reason) : undefined) ??
      `response_${response.status}`;
  }
}

/** Responses API streams: usage and the final output arrive in `response.completed` (or failed/incomplete). */
export class ResponsesStreamTap implements StreamTap {
  private readonly observation: CallObservation;
  private finished = false;
  /**
   * performance.now() at the first delta event (`response.output_text.delta`, a function call's arguments,
   * reasoning or refusal text). `response.created` and `in_progress` come before any token.
   */
  firstTokenAt: number | undefined;

  constructor(requestedModel: string | undefined) {
    this.observation = emptyObservation(requestedModel);
  }

  onEvent(event: StreamEvent): EventDecision {
    const type = event.event;
    if (this.firstTokenAt === undefined && type?.endsWith('.delta')) this.firstTokenAt = performance.now();
    if (
      type !== 'response.completed' &&
      type !== 'response.failed' &&
      type !== 'response.incomplete' &&
      type !== 'error'
    ) {
      return 'forward';
    }
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return 'forward';
    }
    if (!isRecord(payload)) return 'forward';
    if (type === 'error') {
      this.observation.error_type = stringOr(payload.code) ?? stringOr(payload.type) ?? 'stream_error';
      this.finished = true;
      return 'forward';
    }
    if (isRecord(payload.response)) fill(this.observation, payload.response);
    this.finished = true;
    return 'forward';
  }

  result(): CallObservation & { usageMissing: boolean } {
    return { ...this.observation, usageMissing: !this.finished };
  }
}
