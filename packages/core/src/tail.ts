/**
 * Tail probabilities on a common scale. Every detector decision is a tail probability; it is carried as the
 * σ of a standard Gaussian tail that is just as unlikely ("σ-equivalent"), so one threshold means the same
 * probability on every metric, every agent and every baseline age, and humans still read a σ.
 */

/**
 * z such that a standard Gaussian exceeds z with probability `tail`: Acklam's rational approximation of the
 * normal quantile (relative error about 1e-9), which stays accurate far into the tail.
 */
export function upperTailSigma(tail: number): number {
  if (!(tail > 0)) return Number.POSITIVE_INFINITY;
  if (tail >= 1) return Number.NEGATIVE_INFINITY;
  const p = tail;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return -(
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
        2.549732539343734) *
        q +
        4.374664141464968) *
        q +
        2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) *
        q +
        1)
    );
  }
  if (p > 1 - 0.02425) return -upperTailSigma(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return -(
    ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r +
      1.38357751867269e2) *
      r -
      3.066479806614716e1) *
      r +
      2.506628277459239) *
      q) /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r +
      6.680131188771972e1) *
      r -
      1.328068155288572e1) *
      r +
      1)
  );
}

/**
 * P(Z ≥ z) for a standard Gaussian (the complementary error function, W. J. Cody's rational form as in
 * Numerical Recipes' erfcc; relative error below 1.2e-7 everywhere).
 */
export function gaussianTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The σ-equivalent of a Student-t statistic with `df` degrees of freedom: the z whose Gaussian tail equals
 * the t tail (Wallace's 1959 approximation, accurate to a few percent in z for df ≥ 2, exact as df → ∞).
 * A young baseline has an uncertain spread, so its deviations are t- rather than Gaussian-distributed: this
 * shrinks them instead of flooring the spread by hand.
 */
export function studentToSigma(t: number, df: number): number {
  if (!(df > 0) || !Number.isFinite(t)) return t;
  const z = ((8 * df + 1) / (8 * df + 3)) * Math.sqrt(df * Math.log1p((t * t) / df));
  return t < 0 ? -z : z;
}
