import type { AnomalyType } from '@immune/core';
import type { MetricMoments } from './profiles.js';

/** What can be injected: the nine anomaly types, plus a tool-call loop that only repetition reveals. */
export type InjectionKind = AnomalyType | 'tool_loop';

export const MAGNITUDES = [3, 5, 8, 15] as const;

/** Kinds with no magnitude: a prompt hash is either known or not; a loop is the same call again and again. */
const FIXED: readonly InjectionKind[] = ['prompt_change', 'tool_loop'];

export const INJECTION_KINDS: readonly InjectionKind[] = [
  'token_spike',
  'input_token_spike',
  'output_token_spike',
  'latency_spike',
  'tool_explosion',
  'cost_spike',
  'high_retry_rate',
  'error_rate_spike',
  'prompt_change',
  'tool_loop',
];

export interface InjectionCell {
  kind: InjectionKind;
  /** σ of the shift; undefined for the fixed kinds. */
  sigma: number | undefined;
}

export const CELLS: readonly InjectionCell[] = INJECTION_KINDS.flatMap<InjectionCell>((kind) =>
  FIXED.includes(kind) ? [{ kind, sigma: undefined }] : MAGNITUDES.map((sigma) => ({ kind, sigma })),
);

export const cellKey = (cell: InjectionCell) => `${cell.kind}@${cell.sigma ?? '-'}`;

/** The detector's floors: σ is never taken below 10 % of the mean, nor below one call for tool calls. */
export const RELATIVE_FLOOR = 0.1;

export function effectiveSd([mean, sd]: [number, number], absoluteFloor = 0): number {
  return Math.max(sd, RELATIVE_FLOOR * Math.abs(mean), absoluteFloor);
}

/**
 * The probability that a call fails (or is retried) under a rate injection of `sigma`: the rate rises by
 * σ per-call standard deviations, sd = √(p(1−p)) with p floored at 2 % as the detector floors it. A rate has
 * no other natural σ (the detector's windowed σ depends on the window size), so the report prints the rates.
 */
export function injectedRate(baseRate: number, sigma: number): number {
  const p = Math.max(baseRate, 0.02);
  return Math.min(1, baseRate + sigma * Math.sqrt(p * (1 - p)));
}

/** Additive shifts of one vital's metrics for a metric injection at time-dependent moments. */
export interface Shift {
  input: number;
  output: number;
  latency: number;
  tools: number;
  cost: number;
}

export function metricShift(kind: InjectionKind, sigma: number, m: MetricMoments): Shift {
  const shift: Shift = { input: 0, output: 0, latency: 0, tools: 0, cost: 0 };
  switch (kind) {
    case 'token_spike': {
      // A longer exchange on both sides, sized in σ of the total.
      const total = sigma * effectiveSd(m.total);
      shift.input = (total * m.input[0]) / m.total[0];
      shift.output = (total * m.output[0]) / m.total[0];
      break;
    }
    case 'input_token_spike':
      shift.input = sigma * effectiveSd(m.input);
      break;
    case 'output_token_spike':
      shift.output = sigma * effectiveSd(m.output);
      break;
    case 'latency_spike':
      shift.latency = sigma * effectiveSd(m.latency);
      break;
    case 'tool_explosion':
      shift.tools = Math.ceil(sigma * effectiveSd(m.tools, 1));
      break;
    case 'cost_spike':
      // Same tokens at a higher price: a silent switch to an expensive model.
      shift.cost = sigma * effectiveSd(m.cost);
      break;
    default:
      break;
  }
  return shift;
}
