import { isBlocked, type LifecycleState } from './lifecycle.js';
import type { ContainmentLevel, QuarantineOrder } from './quarantine-order.js';

/**
 * Soft containment: what limits a severe anomaly's damage at its first corroborated vital, before the fleet
 * hold is over. The agent stays SUSPECTED and served, but every call is clamped to the agent's own output-token
 * baseline and throttled to its usual rate; full quarantine follows the lifecycle as before. Pure: triage
 * decides with it, the sentinel's effects write the entry, the gateway and MCP proxy enforce it.
 */
export interface ContainmentConfig {
  /** Apply soft containment at the first severe, corroborated vital. false: wait for the fleet hold as before. */
  soft: boolean;
  /**
   * The clamp is the output-token baseline's upper band: this many standard deviations above its mean on the
   * detector's judged scale (log1p for tokens), so an agent's ordinary long answers still fit.
   */
  clampSd: number;
  /** The clamp never goes below this many output tokens: an agent of one-word answers can still answer. */
  minMaxTokens: number;
  /** Calls per minute kept, as a multiple of the agent's usual rate (1.5: half again as many as usual). */
  rateHeadroom: number;
  /** The throttle never goes below this many calls per minute. */
  minCallsPerMinute: number;
}

export const DEFAULT_CONTAINMENT_CONFIG: ContainmentConfig = {
  soft: true,
  clampSd: 2,
  minMaxTokens: 64,
  rateHeadroom: 1.5,
  minCallsPerMinute: 6,
};

/** One baseline on the detector's judged scale, as `AgentDetector.baseline` reports it. */
export interface JudgedBaseline {
  mean: number;
  sd: number;
  n: number;
}

export interface SoftContainmentInput {
  agentId: string;
  reason: string;
  now: number;
  /** The agent's `output_tokens` baseline (log1p scale); undefined when it has made no LLM calls yet. */
  outputTokens: JudgedBaseline | undefined;
  /** Event times of the agent's recent LLM calls, oldest first, the anomalous one included. */
  callTimes: readonly number[];
}

/** The quarantine-bucket entry body for a softly contained, SUSPECTED agent. */
export function softContainment(input: SoftContainmentInput, config: ContainmentConfig): QuarantineOrder {
  const order: QuarantineOrder = {
    agent_id: input.agentId,
    state: 'SUSPECTED',
    reason: `soft containment: ${input.reason}`,
    since: input.now,
    containment: 'soft',
  };
  const maxTokens = clampOf(input.outputTokens, config);
  if (maxTokens !== undefined) order.max_tokens = maxTokens;
  const rate = usualRate(input.callTimes);
  if (rate !== undefined) {
    order.calls_per_minute = Math.max(config.minCallsPerMinute, round2(rate * config.rateHeadroom));
  }
  return order;
}

/** The output-token clamp, or undefined when there is no baseline to clamp to. */
export function clampOf(baseline: JudgedBaseline | undefined, config: ContainmentConfig): number | undefined {
  if (baseline === undefined || !(baseline.n > 0) || !Number.isFinite(baseline.mean)) return undefined;
  const sd = Number.isFinite(baseline.sd) ? baseline.sd : 0;
  const upper = Math.expm1(baseline.mean + config.clampSd * sd);
  return Math.max(config.minMaxTokens, Math.ceil(upper));
}

/**
 * Calls per minute before the anomaly: the spacing of the calls that came before the last one (the last is the
 * anomalous call, and a runaway may also be a burst). Undefined with fewer than two earlier calls.
 */
export function usualRate(callTimes: readonly number[]): number | undefined {
  const before = callTimes.length - 1;
  if (before < 2) return undefined;
  const span = callTimes[before - 1]! - callTimes[0]!;
  if (!(span > 0)) return undefined;
  return ((before - 1) * 60_000) / span;
}

/**
 * How hard an entry contains its agent, for the enforcers: every blocked state is `full` whatever the entry
 * says; `soft` needs the entry to say so; anything else (a stale entry of a healthy agent) contains nothing.
 */
export function containmentLevel(entry: {
  state: LifecycleState;
  containment?: ContainmentLevel;
}): ContainmentLevel | undefined {
  if (isBlocked(entry.state)) return 'full';
  return entry.containment === 'soft' ? 'soft' : undefined;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
