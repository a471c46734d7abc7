/**
 * The baseline band drawn behind a metric: typical value ± k·σ in the metric's own unit, estimated robustly
 * (median and 1.4826·MAD) from the samples before the first cure in the window, so the incident itself does
 * not widen it. The series API does not carry the sentinel's learned baseline yet (issue 16 asks core for a
 * helper that converts it back to the metric's unit); until it does, this estimate stands in for it and the
 * chart's legend says so.
 */
export interface Band {
  typical: number;
  low: number;
  high: number;
}

export const BAND_SIGMAS = 3;

export function baselineBand(values: readonly number[], ts: readonly number[], before?: number): Band | null {
  const sample = values.filter((_value, index) => before === undefined || ts[index]! < before);
  const use = sample.length >= 5 ? sample : values;
  if (use.length === 0) return null;
  const typical = median(use);
  const sigma = 1.4826 * median(use.map((value) => Math.abs(value - typical)));
  return { typical, low: typical - BAND_SIGMAS * sigma, high: typical + BAND_SIGMAS * sigma };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
