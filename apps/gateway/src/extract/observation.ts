/** What the gateway learned about one call from its request and response, before it becomes a Vital. */
export interface CallObservation {
  model: string | undefined;
  input_tokens: number;
  output_tokens: number;
  /** When the provider reports a total that differs from input + output (e.g. reasoning), it wins. */
  total_tokens: number | undefined;
  tool_calls: number;
  /** Undefined on success. */
  error_type: string | undefined;
}

export function emptyObservation(model?: string): CallObservation {
  return {
    model,
    input_tokens: 0,
    output_tokens: 0,
    total_tokens: undefined,
    tool_calls: 0,
    error_type: undefined,
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function numberOr(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

export function stringOr(value: unknown, fallback?: string): string | undefined {
  return typeof value === 'string' ? value : fallback;
}

/**
 * A short, stable error class from a status and an error body in any provider's format, the most specific
 * field first: OpenAI's `code` (`rate_limit_exceeded`, where `type` says only `requests`), then `type`
 * (Anthropic's `overloaded_error`), then Google's `status` (`RESOURCE_EXHAUSTED`), else `http_502` and the like.
 */
export function errorTypeOf(status: number, body: unknown): string {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const named = stringOr(error?.code) ?? stringOr(error?.type) ?? stringOr(error?.status);
  if (named) return named;
  if (status === 429) return 'rate_limit_error';
  if (status === 408 || status === 504) return 'timeout';
  return `http_${status}`;
}

/**
 * The start every non-streamed extractor shares: a body that is not an object, or an error status, decides
 * the observation on its own. Returns the parsed object to read usage from, or only the finished observation.
 */
export function errorOrBody(
  status: number,
  body: unknown,
  requestedModel: string | undefined,
  isErrorBody: (body: Record<string, unknown>) => boolean = () => false,
): { observation: CallObservation; body: Record<string, unknown> | undefined } {
  const observation = emptyObservation(requestedModel);
  if (!isRecord(body)) {
    observation.error_type = status >= 400 ? `http_${status}` : 'invalid_response';
    return { observation, body: undefined };
  }
  if (status >= 400 || isErrorBody(body)) {
    observation.error_type = errorTypeOf(status, body);
    return { observation, body: undefined };
  }
  return { observation, body };
}
