/** Percentiles and small formatting helpers shared by every measurement. */

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles (ms) of a sample set; all zeros when it is empty. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    mean: round3(sum / sorted.length),
    p50: round3(at(0.5)),
    p90: round3(at(0.9)),
    p99: round3(at(0.99)),
    p999: round3(at(0.999)),
    max: round3(sorted[sorted.length - 1]!),
  };
}

export const round3 = (value: number): number => Math.round(value * 1000) / 1000;
export const round1 = (value: number): number => Math.round(value * 10) / 10;

/** `+0.123` / `-0.040`: a signed difference in ms, three decimals. */
export function signed(value: number): string {
  const text = value.toFixed(3);
  return value >= 0 ? `+${text}` : text;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
