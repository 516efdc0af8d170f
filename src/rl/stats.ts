// Evaluation statistics with honest uncertainty: Wilson score intervals for rates (sound at 0 and 1, where
// the normal approximation collapses to a zero-width interval) and Student-t intervals for means.

/** A point estimate with its 95% confidence interval [lo, hi]. */
export interface Estimate {
  value: number;
  ci95: [number, number];
  n: number;
}

const Z95 = 1.959963984540054;

/** Wilson score 95% interval for `successes` out of `n` trials. */
export function wilsonInterval(successes: number, n: number): Estimate {
  if (n <= 0) return { value: Number.NaN, ci95: [0, 1], n: 0 };
  const p = successes / n;
  const z2 = Z95 * Z95;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (Z95 / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // at 0 or n successes the bound is exactly 0 or 1; rounding would otherwise leave ~1e-18
  const lo = successes === 0 ? 0 : Math.max(0, center - half);
  const hi = successes === n ? 1 : Math.min(1, center + half);
  return { value: p, ci95: [lo, hi], n };
}

// two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (tabulated to 30, then a 1/df expansion). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.POSITIVE_INFINITY;
  if (df <= 30) return T975[Math.round(df) - 1]!;
  // Cornish–Fisher expansion around the normal quantile; error < 1e-3 for df > 30
  const z = Z95;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** Mean of `xs` with a Student-t 95% interval (a single sample gives an unbounded interval). */
export function meanInterval(xs: ArrayLike<number>): Estimate {
  const n = xs.length;
  if (n === 0) return { value: Number.NaN, ci95: [Number.NaN, Number.NaN], n: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += xs[i]!;
  const mean = sum / n;
  if (n === 1) return { value: mean, ci95: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i]! - mean) ** 2;
  const half = tQuantile975(n - 1) * Math.sqrt(ss / (n - 1) / n);
  return { value: mean, ci95: [mean - half, mean + half], n };
}

/**
 * A mean and its Student-t 95% interval computed as values arrive (Welford's update), for evaluations too long
 * to keep every value: the same estimate as meanInterval up to rounding.
 */
export class RunningMean {
  private n = 0;
  /** plain sum: the mean is sum / n, bit for bit what meanInterval reports */
  private sum = 0;
  private runningMean = 0;
  private m2 = 0;

  add(x: number): void {
    this.n++;
    this.sum += x;
    const delta = x - this.runningMean;
    this.runningMean += delta / this.n;
    this.m2 += delta * (x - this.runningMean);
  }

  interval(): Estimate {
    const n = this.n;
    if (n === 0) return { value: Number.NaN, ci95: [Number.NaN, Number.NaN], n: 0 };
    const mean = this.sum / n;
    if (n === 1) return { value: mean, ci95: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], n };
    const half = tQuantile975(n - 1) * Math.sqrt(Math.max(0, this.m2) / (n - 1) / n);
    return { value: mean, ci95: [mean - half, mean + half], n };
  }
}
