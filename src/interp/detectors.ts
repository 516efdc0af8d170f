// Detectors of unusual internal states that need no labels of what they look for — the building blocks of
// "is this model about to do something it was never trained to do?":
//   - anomaly scores: Mahalanobis distance of an activation from the Gaussian of reference activations (what the
//     model computes on the distribution it was checked on), its covariance shrunk toward a multiple of the
//     identity so a few thousand samples of a wide layer still give a well-conditioned estimate;
//   - principal directions: the top eigenvectors of the covariance of a set of activations (power iteration with
//     deflation), to find the direction along which deployment activations vary most;
//   - contrast directions: the difference of mean activations between two sets (contrast pairs);
//   - projections on a direction, and the AUROC of any score against binary labels (metrics.ts).
// They work on plain row-major float matrices [n, d] (an activation dataset's `act/<hook>` or its observations).
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { cholesky, matmulF32 } from "./linalg.js";

/** Column means of X [n, d]. */
export function columnMeans(X: Float32Array, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += X[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= Math.max(1, n);
  return mean;
}

/** Covariance [d, d] (float64, divided by n − 1) of X [n, d] around `mean`. */
export function covariance(X: Float32Array, n: number, d: number, mean: Float64Array): Float64Array {
  if (n < 2) throw new ConfigError(`a covariance needs at least 2 samples, got ${n}`, "collect more samples");
  const centred = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) centred[i * d + j] = X[i * d + j]! - mean[j]!;
  const G = matmulF32(centred, centred, d, d, n, { transA: true });
  const cov = new Float64Array(d * d);
  for (let k = 0; k < d * d; k++) cov[k] = G[k]! / (n - 1);
  return cov;
}

/** A Gaussian fitted to reference rows: what `anomalyScores` measures distances from. */
export interface ReferenceGaussian {
  d: number;
  mean: Float64Array;
  /** Cholesky factor L (lower triangle, row-major) of the shrunk covariance */
  chol: Float64Array;
  /** the shrinkage weight used */
  shrinkage: number;
}

/**
 * Fits mean and covariance to X [n, d], shrinking the covariance toward (its mean variance)·I by `shrinkage`
 * (0 = none, 1 = spherical). Features that never vary get the floor variance, so they score any change.
 */
export function fitReferenceGaussian(X: Float32Array, n: number, d: number, shrinkage = 0.1): ReferenceGaussian {
  if (!(shrinkage >= 0 && shrinkage <= 1)) throw new ConfigError(`shrinkage must be in [0, 1], got ${shrinkage}`);
  const mean = columnMeans(X, n, d);
  const cov = covariance(X, n, d, mean);
  let trace = 0;
  for (let j = 0; j < d; j++) trace += cov[j * d + j]!;
  const floor = Math.max(trace / d, 1e-8);
  for (let k = 0; k < d * d; k++) cov[k]! *= 1 - shrinkage;
  for (let j = 0; j < d; j++) cov[j * d + j]! += shrinkage * floor + 1e-6 * floor;
  if (!cholesky(cov, d)) throw new Error("fitReferenceGaussian: the shrunk covariance is not positive definite");
  return { d, mean, chol: cov, shrinkage };
}

/** Mahalanobis distance of each row of X [m, d] from the reference Gaussian. */
export function anomalyScores(ref: ReferenceGaussian, X: Float32Array, m: number): Float64Array {
  const { d, mean, chol } = ref;
  const out = new Float64Array(m);
  const z = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    // solve L z = x − mean; the distance is ‖z‖
    let sq = 0;
    for (let r = 0; r < d; r++) {
      let s = X[i * d + r]! - mean[r]!;
      for (let c = 0; c < r; c++) s -= chol[r * d + c]! * z[c]!;
      z[r] = s / chol[r * d + r]!;
      sq += z[r]! * z[r]!;
    }
    out[i] = Math.sqrt(sq);
  }
  return out;
}

/** The top-k principal directions of X [n, d] (unit vectors, [k, d]) and the variance along each. */
export function principalDirections(X: Float32Array, n: number, d: number, k: number, seed = 0, iterations = 200): { mean: Float64Array; directions: Float64Array; variances: Float64Array } {
  if (!(Number.isInteger(k) && k >= 1 && k <= d)) throw new ConfigError(`k must be an integer in [1, ${d}], got ${k}`);
  const mean = columnMeans(X, n, d);
  const cov = covariance(X, n, d, mean);
  const directions = new Float64Array(k * d);
  const variances = new Float64Array(k);
  const rng = new Rng(seed, "principal-directions");
  const v = new Float64Array(d);
  const w = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) v[j] = rng.normal();
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      // w = cov v, then remove the components found before (deflation)
      for (let r = 0; r < d; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += cov[r * d + j]! * v[j]!;
        w[r] = s;
      }
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += w[j]! * directions[p * d + j]!;
        for (let j = 0; j < d; j++) w[j]! -= dot * directions[p * d + j]!;
      }
      let norm = 0;
      for (let j = 0; j < d; j++) norm += w[j]! * w[j]!;
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      lambda = norm;
      for (let j = 0; j < d; j++) v[j] = w[j]! / norm;
    }
    directions.set(v, c * d);
    variances[c] = lambda;
  }
  return { mean, directions, variances };
}

/** (x − center) · direction for each row of X [m, d] (`direction` may be one row of a [k, d] matrix at `offset`). */
export function projectionScores(X: Float32Array, m: number, d: number, direction: Float64Array, center: Float64Array | null = null, offset = 0): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (X[i * d + j]! - (center ? center[j]! : 0)) * direction[offset + j]!;
    out[i] = s;
  }
  return out;
}

/** mean(B) − mean(A): the contrast direction of two sets of rows [nA, d] and [nB, d]. */
export function meanDifference(A: Float32Array, nA: number, B: Float32Array, nB: number, d: number): Float64Array {
  const a = columnMeans(A, nA, d);
  const b = columnMeans(B, nB, d);
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) out[j] = b[j]! - a[j]!;
  return out;
}
