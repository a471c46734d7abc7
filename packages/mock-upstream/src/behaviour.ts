/**
 * How the mock answers one agent. Tests and the demo's chaos schedule set it per agent id (the
 * X-Immune-Agent header, which the gateway forwards), so one agent can misbehave while the fleet is normal.
 */
export interface Behaviour {
  /** Output tokens per answer (words of text). */
  outputTokens: number;
  /** Extra delay before the answer starts, ms. */
  latencyMs: number;
  /** Delay between streamed chunks, ms. */
  chunkDelayMs: number;
  /**
   * Streams only: the headers and the opening events (role chunk, `response.created`, `message_start`) leave at
   * once, then the first token waits this long, as a real model's first token does. Time to first token must
   * be measured at the first content event, not at the first byte.
   */
  firstTokenDelayMs: number;
  /** Streams only: cut the connection after this many events, without ending the stream (0 = never). */
  breakStreamAfterEvents: number;
  /** Tool calls per answer when the request offers tools. */
  toolCalls: number;
  /** Answer this status with a provider-style error body instead (0 = never). */
  errorStatus: number;
  /** Fraction of requests that fail with errorStatus (1 = all). */
  errorRate: number;
}

export const NORMAL_BEHAVIOUR: Behaviour = {
  outputTokens: 20,
  latencyMs: 0,
  chunkDelayMs: 0,
  firstTokenDelayMs: 0,
  breakStreamAfterEvents: 0,
  toolCalls: 1,
  errorStatus: 0,
  errorRate: 1,
};

/** The misbehaviours the demo's chaos schedule uses; each maps to one anomaly type the sentinel should catch. */
export const MISBEHAVIOURS = {
  huge_output: { outputTokens: 2000 },
  slow: { latencyMs: 3000 },
  tool_storm: { toolCalls: 12 },
  errors: { errorStatus: 500, errorRate: 0.8 },
  rate_limited: { errorStatus: 429, errorRate: 1 },
  outage: { errorStatus: 503, errorRate: 0.6, latencyMs: 2000 },
} as const satisfies Record<string, Partial<Behaviour>>;
export type Misbehaviour = keyof typeof MISBEHAVIOURS;
