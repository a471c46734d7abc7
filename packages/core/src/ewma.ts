/**
 * Exponentially weighted mean and variance, kept in three slots of a Float64Array: [mean, variance, count].
 * The update is the weighted form of Welford's algorithm (Finch, "Incremental calculation of weighted mean and
 * variance", 2009), so it is numerically stable and exactly equals the directly computed weighted statistics.
 * The first samples use alpha = max(alpha, 1/n), which makes the early estimate a plain average rather than a
 * value dragged towards zero.
 */
export const EWMA_SLOTS = 3;

export function ewmaCount(stats: Float64Array, at: number): number {
  return stats[at + 2]!;
}

export function ewmaMean(stats: Float64Array, at: number): number {
  return stats[at]!;
}

export function ewmaVariance(stats: Float64Array, at: number): number {
  return stats[at + 1]!;
}

/**
 * Adds one sample. `alpha` is the steady-state weight of a new sample, in (0, 1]. `varianceAlpha` (default:
 * the same) lets the variance remember longer than the mean: a tail threshold is far more sensitive to an
 * error in the spread than to one in the centre, while the centre has to follow drift. With both equal this
 * is exactly the weighted Welford update; with a smaller `varianceAlpha` the variance is an EWMA of squared
 * deviations from the previous mean, which overstates it by a factor of about 1 + alpha/2 (the conservative
 * side).
 */
export function ewmaUpdate(
  stats: Float64Array,
  at: number,
  x: number,
  alpha: number,
  varianceAlpha = alpha,
): void {
  const n = stats[at + 2]! + 1;
  const a = Math.max(alpha, 1 / n);
  const b = Math.max(varianceAlpha, 1 / n);
  const mean = stats[at]!;
  const diff = x - mean;
  stats[at] = mean + a * diff;
  stats[at + 1] = (1 - b) * (stats[at + 1]! + diff * (b * diff));
  stats[at + 2] = n;
}
