// The dense linear algebra probes need, on plain typed arrays: feature standardisation, products through the
// kernel backend's GEMM (float32, the same kernels training uses), Cholesky solves in float64 (LAPACK's when the
// BLAS library has one), and L-BFGS for the smooth convex losses (logistic, softmax). Small on purpose: probes have at most a few thousand samples.
import { lapack } from "../core/kernels/index.js";
import { gemm } from "../core/ops/matmul.js";

/** Per-feature affine map x → (x − mean)·scale; scale is 1/std, or 0 for a constant feature (dropped). */
export interface Standardizer {
  mean: Float64Array;
  scale: Float64Array;
}

/**
 * Mean and 1/std of each of the `d` features over the rows `rows` of X [n, d]. With `groupSize` > 1 the d
 * features are `d / groupSize` groups of `groupSize` consecutive columns sharing one mean and scale (a channel
 * over its spatial positions), so a spatial probe stays translation-equivariant.
 */
export function fitStandardizer(X: Float32Array, d: number, rows: ArrayLike<number>, groupSize = 1): Standardizer {
  const groups = d / groupSize;
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  for (let r = 0; r < rows.length; r++) {
    const off = rows[r]! * d;
    for (let g = 0, j = 0; g < groups; g++) {
      let s = 0;
      let s2 = 0;
      for (let k = 0; k < groupSize; k++, j++) {
        const v = X[off + j]!;
        s += v;
        s2 += v * v;
      }
      sum[g]! += s;
      sumSq[g]! += s2;
    }
  }
  const count = rows.length * groupSize;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let g = 0; g < groups; g++) {
    const m = sum[g]! / count;
    const variance = Math.max(0, sumSq[g]! / count - m * m);
    // features that never vary carry no information; relative threshold so float noise is not amplified
    const s = variance > 1e-12 * Math.max(1, m * m) ? 1 / Math.sqrt(variance) : 0;
    for (let k = 0; k < groupSize; k++) {
      mean[g * groupSize + k] = m;
      scale[g * groupSize + k] = s;
    }
  }
  return { mean, scale };
}

/** The standardised rows `rows` of X [n, d] as a new float32 matrix [rows.length, d]. */
export function standardizeRows(X: Float32Array, d: number, rows: ArrayLike<number>, st: Standardizer): Float32Array {
  const out = new Float32Array(rows.length * d);
  const { mean, scale } = st;
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]! * d;
    const dst = r * d;
    for (let j = 0; j < d; j++) out[dst + j] = (X[src + j]! - mean[j]!) * scale[j]!;
  }
  return out;
}

/** C [m, n] = A [m, k] · B [k, n] (or with A stored [k, m] when transA; B stored [n, k] when transB). */
export function matmulF32(A: Float32Array, B: Float32Array, m: number, n: number, k: number, options: { transA?: boolean; transB?: boolean; out?: Float32Array } = {}): Float32Array {
  const C = options.out ?? new Float32Array(m * n);
  if (m === 0 || n === 0) return C;
  if (k === 0) return C.fill(0, 0, m * n);
  gemm(A, B, C, { m, n, k, transA: options.transA ?? false, transB: options.transB ?? false });
  return C;
}

/**
 * In-place Cholesky factorisation of the symmetric positive-definite A [n, n] (row-major, float64): the lower
 * triangle becomes L with A = L·Lᵀ. Returns false when A is not positive definite (a pivot ≤ 0).
 */
export function cholesky(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = A[rj + j]!;
    for (let k = 0; k < j; k++) s -= A[rj + k]! * A[rj + k]!;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    A[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = A[ri + j]!;
      for (let k = 0; k < j; k++) t -= A[ri + k]! * A[rj + k]!;
      A[ri + j] = t * inv;
    }
  }
  return true;
}

/** Solves L·Lᵀ·X = B in place for B [n, nrhs] (row-major), L from `cholesky`. */
export function choleskySolve(L: Float64Array, n: number, B: Float64Array, nrhs: number): void {
  // row by row, so the inner loops run along B's contiguous rows (a column walk strides nrhs apart)
  // forward: L·Y = B, row i of Y = (row i of B − Σ_{k<i} L[i,k]·row k of Y) / L[i,i]
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const bi = i * nrhs;
    for (let k = 0; k < i; k++) {
      const l = L[ri + k]!;
      if (l === 0) continue;
      const bk = k * nrhs;
      for (let c = 0; c < nrhs; c++) B[bi + c]! -= l * B[bk + c]!;
    }
    const inv = 1 / L[ri + i]!;
    for (let c = 0; c < nrhs; c++) B[bi + c]! *= inv;
  }
  // backward: Lᵀ·X = Y; once row i of X is final, take its share out of every row above it
  for (let i = n - 1; i >= 0; i--) {
    const bi = i * nrhs;
    const inv = 1 / L[i * n + i]!;
    for (let c = 0; c < nrhs; c++) B[bi + c]! *= inv;
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k]!;
      if (l === 0) continue;
      const bk = k * nrhs;
      for (let c = 0; c < nrhs; c++) B[bk + c]! -= l * B[bi + c]!;
    }
  }
}

/**
 * Solves A·X = B in place for the symmetric positive-definite A [n, n] (overwritten by its Cholesky factor) and
 * B [n, nrhs] (overwritten by X), both row-major float64: through the BLAS library's LAPACK when the active kernel
 * backend has one, else `cholesky` + `choleskySolve` here. Returns false when A is not positive definite.
 */
export function solveSpd(A: Float64Array, n: number, B: Float64Array, nrhs: number): boolean {
  const native = lapack();
  if (native !== undefined) return native.choleskySolve(A, n, B, nrhs);
  if (!cholesky(A, n)) return false;
  choleskySolve(A, n, B, nrhs);
  return true;
}

/** A smooth objective: returns f(x) and writes ∇f(x) into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** iteration cap (default 200) */
  maxIterations?: number;
  /** stop when ‖∇f‖∞ ≤ gradTolerance · max(1, |f|) (default 1e-5) */
  gradTolerance?: number;
  /** stop when the relative decrease of f in one iteration is below this (default 1e-9) */
  valueTolerance?: number;
  /** correction pairs kept (default 10) */
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * Minimises a smooth function by L-BFGS (Nocedal & Wright, Alg. 7.4) with a backtracking line search under the
 * Armijo condition; curvature pairs with sᵀy ≤ 0 are skipped. `x0` is not modified.
 */
export function lbfgs(f: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIterations = options.maxIterations ?? 200;
  const gradTol = options.gradTolerance ?? 1e-5;
  const valueTol = options.valueTolerance ?? 1e-9;
  const m = options.memory ?? 10;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const dir = new Float64Array(n);
  const xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(g) <= gradTol * Math.max(1, Math.abs(fx));
  while (!converged && iterations < maxIterations) {
    // two-loop recursion: dir = −H·g
    for (let i = 0; i < n; i++) dir[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, dir);
      alpha[k] = a;
      const y = Y[k]!;
      for (let i = 0; i < n; i++) dir[i]! -= a * y[i]!;
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < n; i++) dir[i]! *= gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      for (let i = 0; i < n; i++) dir[i]! /= Math.max(gn, 1);
    }
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, dir);
      const s = S[k]!;
      const a = alpha[k]!;
      for (let i = 0; i < n; i++) dir[i]! += (a - b) * s[i]!;
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // not a descent direction (numerical trouble): restart from steepest descent
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i]!;
      slope = -dot(g, g);
    }
    let step = 1;
    let fNew = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = f(xNew, gNew);
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    iterations++;
    if (!(fNew <= fx)) break; // no progress possible at float precision
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const decrease = fx - fNew;
    x = Float64Array.from(xNew);
    [g, gNew] = [gNew, g];
    fx = fNew;
    if (maxAbs(g) <= gradTol * Math.max(1, Math.abs(fx)) || decrease <= valueTol * Math.max(1, Math.abs(fx))) converged = true;
  }
  return { x, value: fx, iterations, converged };
}
