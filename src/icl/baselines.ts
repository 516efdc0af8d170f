// Exact (not learned) in-context learners to compare a trained transformer against: K steps of gradient descent
// on the in-context least-squares loss from w₀ = 0 with the learning rate found by line search on held-out
// tasks, GD++ (von Oswald et al. 2023 §4: GD plus an iterative preconditioning x ← (I − γC)x of every token),
// and ridge / least squares. The inner loss is L(w) = 1/(2N) Σ_i (wᵀx_i − y_i)² (the paper's, so η matches
// its construction); every reported loss is the query MSE (ŷ − y)² without ½.
import { ConfigError } from "../core/errors.js";
import { gdStackProducts } from "./construction.js";
import { LsaKernel, zeroProducts } from "./lsa_kernel.js";
import { meanSquaredError, type TaskBatch } from "./tasks.js";

export interface LinearPredictions {
  /** [batch] query predictions */
  predictions: Float64Array;
  /** [batch, d] ∂ŷ/∂x_q of each task */
  sensitivity: Float64Array;
}

/** K = etas.length steps of GD from w₀ = 0, step k with learning rate etas[k]. Sensitivity = final w. */
export function gdPredict(tasks: TaskBatch, etas: readonly number[]): LinearPredictions {
  const { batch, d, n, tokens } = tasks;
  const dim = d + 1;
  const t = n + 1;
  const predictions = new Float64Array(batch);
  const sensitivity = new Float64Array(batch * d);
  const w = new Float64Array(d);
  const grad = new Float64Array(d);
  for (let b = 0; b < batch; b++) {
    const base = b * t * dim;
    w.fill(0);
    for (const eta of etas) {
      grad.fill(0);
      for (let i = 0; i < n; i++) {
        const row = base + i * dim;
        let r = -tokens[row + d]!;
        for (let k = 0; k < d; k++) r += w[k]! * tokens[row + k]!;
        for (let k = 0; k < d; k++) grad[k] = grad[k]! + r * tokens[row + k]!;
      }
      for (let k = 0; k < d; k++) w[k] = w[k]! - (eta / n) * grad[k]!;
    }
    const q = base + n * dim;
    let p = 0;
    for (let k = 0; k < d; k++) p += w[k]! * tokens[q + k]!;
    predictions[b] = p;
    sensitivity.set(w, b * d);
  }
  return { predictions, sensitivity };
}

/**
 * GD++ as the data transformation of its LSA construction, layer l with (η_l, γ_l): every token's y-slot
 * moves by −Δwᵀx with Δw = (η_l/N) Σ_i y_i x_i, and every token's x by −γ_l C x with C = (1/N) Σ_i x_i x_iᵀ,
 * both computed from the tokens before the layer; ŷ = −(query y-slot). γ = 0 is plain GD. The sensitivity
 * ∂ŷ/∂x_q = Σ_l M_lᵀ Δw_l with M_l = Π_{m<l} (I − γ_m C_m) (the query's x only ever meets linear maps).
 */
export function gdppPredict(tasks: TaskBatch, etas: readonly number[], gammas: readonly number[]): LinearPredictions {
  const { batch, d, n, tokens } = tasks;
  const dim = d + 1;
  const t = n + 1;
  const predictions = new Float64Array(batch);
  const sensitivity = new Float64Array(batch * d);
  const seq = new Float64Array(t * dim);
  const c = new Float64Array(d * d);
  const dw = new Float64Array(d);
  const tmp = new Float64Array(d);
  // m holds M_l (the map from the input query x to the current query x), row-major [d, d]
  const m = new Float64Array(d * d);
  const mNext = new Float64Array(d * d);
  for (let b = 0; b < batch; b++) {
    seq.set(tokens.subarray(b * t * dim, (b + 1) * t * dim));
    m.fill(0);
    for (let k = 0; k < d; k++) m[k * d + k] = 1;
    const sens = sensitivity.subarray(b * d, (b + 1) * d);
    for (let l = 0; l < etas.length; l++) {
      const eta = etas[l]!;
      const gamma = gammas[l] ?? 0;
      c.fill(0);
      dw.fill(0);
      for (let i = 0; i < n; i++) {
        const row = i * dim;
        const y = seq[row + d]!;
        for (let a = 0; a < d; a++) {
          const xa = seq[row + a]!;
          dw[a] = dw[a]! + (eta / n) * y * xa;
          for (let k = 0; k < d; k++) c[a * d + k] = c[a * d + k]! + xa * seq[row + k]! / n;
        }
      }
      // sensitivity += M_lᵀ Δw_l
      for (let k = 0; k < d; k++) {
        let acc = 0;
        for (let a = 0; a < d; a++) acc += m[a * d + k]! * dw[a]!;
        sens[k] = sens[k]! + acc;
      }
      for (let j = 0; j < t; j++) {
        const row = j * dim;
        let dot = 0;
        for (let a = 0; a < d; a++) dot += dw[a]! * seq[row + a]!;
        seq[row + d] = seq[row + d]! - dot;
        if (gamma !== 0) {
          for (let a = 0; a < d; a++) {
            let acc = 0;
            for (let k = 0; k < d; k++) acc += c[a * d + k]! * seq[row + k]!;
            tmp[a] = acc;
          }
          for (let a = 0; a < d; a++) seq[row + a] = seq[row + a]! - gamma * tmp[a]!;
        }
      }
      if (gamma !== 0) {
        // M_{l+1} = (I − γ C) M_l
        for (let a = 0; a < d; a++) {
          for (let k = 0; k < d; k++) {
            let acc = 0;
            for (let h = 0; h < d; h++) acc += c[a * d + h]! * m[h * d + k]!;
            mNext[a * d + k] = m[a * d + k]! - gamma * acc;
          }
        }
        m.set(mNext);
      }
    }
    predictions[b] = -seq[n * dim + d]!;
  }
  return { predictions, sensitivity };
}

/**
 * Ridge regression on each task's context: w = argmin Σ_i (wᵀx_i − y_i)² + λ‖w‖². λ = 0 is least squares
 * (minimum-norm when N < d). With noise σ and w ~ N(0, I), λ = σ² gives the Bayes-optimal posterior mean.
 */
export function ridgePredict(tasks: TaskBatch, lambda: number): LinearPredictions {
  const { batch, d, n, tokens } = tasks;
  const dim = d + 1;
  const t = n + 1;
  const predictions = new Float64Array(batch);
  const sensitivity = new Float64Array(batch * d);
  const primal = n >= d;
  const size = primal ? d : n;
  const gram = new Float64Array(size * size);
  const rhs = new Float64Array(size);
  for (let b = 0; b < batch; b++) {
    const base = b * t * dim;
    const x = (i: number, k: number): number => tokens[base + i * dim + k]!;
    const y = (i: number): number => tokens[base + i * dim + d]!;
    if (primal) {
      // (XᵀX + λI) w = Xᵀy
      for (let a = 0; a < d; a++) {
        for (let k = 0; k < d; k++) {
          let acc = 0;
          for (let i = 0; i < n; i++) acc += x(i, a) * x(i, k);
          gram[a * d + k] = acc + (a === k ? lambda : 0);
        }
        let acc = 0;
        for (let i = 0; i < n; i++) acc += x(i, a) * y(i);
        rhs[a] = acc;
      }
    } else {
      // w = Xᵀ (XXᵀ + λI)⁻¹ y
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let k = 0; k < d; k++) acc += x(i, k) * x(j, k);
          gram[i * n + j] = acc + (i === j ? lambda : 0);
        }
        rhs[i] = y(i);
      }
    }
    const sol = solveSymmetric(gram, rhs, size);
    const w = sensitivity.subarray(b * d, (b + 1) * d);
    if (primal) w.set(sol);
    else for (let k = 0; k < d; k++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += x(i, k) * sol[i]!;
      w[k] = acc;
    }
    let p = 0;
    for (let k = 0; k < d; k++) p += w[k]! * x(n, k);
    predictions[b] = p;
  }
  return { predictions, sensitivity };
}

/** Solves A x = b for symmetric positive (semi)definite A by Cholesky with a tiny relative jitter so that
 * exactly singular systems (λ = 0, collinear inputs) return the regularised minimum-norm answer. */
export function solveSymmetric(aIn: Float64Array, bIn: Float64Array, size: number): Float64Array {
  const a = Float64Array.from(aIn);
  let trace = 0;
  for (let i = 0; i < size; i++) trace += a[i * size + i]!;
  const jitter = 1e-12 * Math.max(trace / size, 1e-300);
  for (let i = 0; i < size; i++) a[i * size + i] = a[i * size + i]! + jitter;
  for (let j = 0; j < size; j++) {
    let diag = a[j * size + j]!;
    for (let k = 0; k < j; k++) diag -= a[j * size + k]! ** 2;
    const ljj = Math.sqrt(Math.max(diag, jitter));
    a[j * size + j] = ljj;
    for (let i = j + 1; i < size; i++) {
      let s = a[i * size + j]!;
      for (let k = 0; k < j; k++) s -= a[i * size + k]! * a[j * size + k]!;
      a[i * size + j] = s / ljj;
    }
  }
  const x = Float64Array.from(bIn);
  for (let i = 0; i < size; i++) {
    let s = x[i]!;
    for (let k = 0; k < i; k++) s -= a[i * size + k]! * x[k]!;
    x[i] = s / a[i * size + i]!;
  }
  for (let i = size - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < size; k++) s -= a[k * size + i]! * x[k]!;
    x[i] = s / a[i * size + i]!;
  }
  return x;
}

/**
 * Minimises a scalar function on [lo, hi]: a geometric or linear grid scan (so a multimodal curve, like the
 * loss of K-step GD in η, lands in the right basin) followed by golden-section search between the grid
 * neighbours of the best point, to relative tolerance `tol`.
 */
export function minimizeScalar(
  f: (x: number) => number,
  lo: number,
  hi: number,
  options: { grid?: number; geometric?: boolean; tol?: number } = {},
): { x: number; value: number; evaluations: number } {
  if (!(hi > lo) || (options.geometric && !(lo > 0))) throw new ConfigError(`minimizeScalar needs lo < hi (and lo > 0 on a geometric grid), got [${lo}, ${hi}]`);
  const gridSize = options.grid ?? 32;
  const tol = options.tol ?? 1e-7;
  const points: number[] = [];
  for (let i = 0; i < gridSize; i++) {
    const s = i / (gridSize - 1);
    points.push(options.geometric ? lo * (hi / lo) ** s : lo + (hi - lo) * s);
  }
  let evaluations = 0;
  const val = (x: number): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  const values = points.map(val);
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! < values[best]!) best = i;
  let a = points[Math.max(0, best - 1)]!;
  let b = points[Math.min(points.length - 1, best + 1)]!;
  const invPhi = (Math.sqrt(5) - 1) / 2;
  let x1 = b - invPhi * (b - a);
  let x2 = a + invPhi * (b - a);
  let f1 = val(x1);
  let f2 = val(x2);
  while (b - a > tol * (Math.abs(a) + Math.abs(b)) / 2 + 1e-300 && evaluations < 500) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - invPhi * (b - a);
      f1 = val(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + invPhi * (b - a);
      f2 = val(x2);
    }
  }
  let x = (a + b) / 2;
  let value = val(x);
  if (values[best]! < value) {
    x = points[best]!;
    value = values[best]!;
  }
  return { x, value, evaluations };
}

/** 1/E‖x‖² over the context inputs of these tasks (×d it is 1/E[x_k²], the natural unit of η and γ). */
export function etaScale(tasks: TaskBatch): number {
  const { batch, d, n, tokens } = tasks;
  const dim = d + 1;
  let s = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < n; i++) {
      const row = (b * (n + 1) + i) * dim;
      for (let k = 0; k < d; k++) s += tokens[row + k]! ** 2;
    }
  }
  return (batch * n) / s;
}

export interface TunedGd {
  /** steps K */
  steps: number;
  /** the line-searched learning rate */
  eta: number;
  /** query MSE on the tuning tasks at that η */
  tuneLoss: number;
}

/** K-step GD with one learning rate η, chosen by line search on the query MSE of held-out `tuneTasks`. */
export function tuneGd(tuneTasks: TaskBatch, steps: number): TunedGd {
  const scale = etaScale(tuneTasks) * tuneTasks.d;
  const loss = (eta: number): number => meanSquaredError(gdPredict(tuneTasks, Array(steps).fill(eta)).predictions, tuneTasks.targets);
  const r = minimizeScalar(loss, 1e-3 * scale, 10 * scale, { grid: 48, geometric: true });
  return { steps, eta: r.x, tuneLoss: r.value };
}

export interface TunedGdpp {
  etas: number[];
  gammas: number[];
  tuneLoss: number;
  /** BFGS iterations used */
  iterations: number;
}

/**
 * GD++ with per-layer (η_l, γ_l), fitted on held-out tasks by BFGS with a backtracking line search, starting
 * from line-searched plain GD (γ = 0). The papers learn the same numbers by gradient descent; the gradient here
 * is exact, from the fused LSA kernel run on the GD++ construction (dη_l = −∂L/∂W_PV[d,d],
 * dγ_l = −Σ_a ∂L/∂W_PV[a,a]). The last layer's γ moves x after the final y-update, so it cannot change ŷ and
 * is fixed at 0; with K = 1, GD++ is GD.
 */
export function tuneGdpp(tuneTasks: TaskBatch, steps: number, maxIterations = 100): TunedGdpp {
  const gd = tuneGd(tuneTasks, steps);
  const { d, n } = tuneTasks;
  const dim = d + 1;
  const etas: number[] = Array(steps).fill(gd.eta);
  const gammas: number[] = Array(steps).fill(0);
  if (steps === 1) return { etas, gammas, tuneLoss: gd.tuneLoss, iterations: 0 };
  const kernel = new LsaKernel(steps, n, d);
  const m = 2 * steps - 1; // θ = [η_1..η_K, γ_1..γ_{K−1}]
  const unpack = (theta: Float64Array): void => {
    for (let l = 0; l < steps; l++) etas[l] = theta[l]!;
    for (let l = 0; l < steps - 1; l++) gammas[l] = theta[steps + l]!;
  };
  const evaluate = (theta: Float64Array): { f: number; g: Float64Array } => {
    unpack(theta);
    const grads = zeroProducts(dim, steps);
    const f = kernel.lossAndGrad(gdStackProducts(d, etas, gammas), tuneTasks.tokens, tuneTasks.targets, tuneTasks.batch, grads);
    const g = new Float64Array(m);
    for (let l = 0; l < steps; l++) {
      const pv = grads[l]!.pv;
      g[l] = -pv[d * dim + d]!;
      if (l < steps - 1) {
        let tr = 0;
        for (let a = 0; a < d; a++) tr += pv[a * dim + a]!;
        g[steps + l] = -tr;
      }
    }
    return { f: Number.isFinite(f) ? f : Number.POSITIVE_INFINITY, g };
  };
  let theta = new Float64Array(m);
  theta.fill(gd.eta, 0, steps);
  let cur = evaluate(theta);
  // inverse-Hessian estimate, started at a scale that makes the first step move η by ~10%
  const h = new Float64Array(m * m);
  const gn = Math.hypot(...cur.g) || 1;
  for (let i = 0; i < m; i++) h[i * m + i] = (0.1 * gd.eta) / gn;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const dir = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let j = 0; j < m; j++) acc -= h[i * m + j]! * cur.g[j]!;
      dir[i] = acc;
    }
    let slope = 0;
    for (let i = 0; i < m; i++) slope += dir[i]! * cur.g[i]!;
    if (slope >= 0) {
      // not a descent direction: reset to steepest descent
      h.fill(0);
      for (let i = 0; i < m; i++) h[i * m + i] = (0.1 * gd.eta) / (Math.hypot(...cur.g) || 1);
      continue;
    }
    let t = 1;
    let next = cur;
    let nextTheta = theta;
    for (let k = 0; k < 40; k++, t /= 2) {
      nextTheta = theta.map((v, i) => v + t * dir[i]!);
      next = evaluate(nextTheta);
      if (next.f <= cur.f + 1e-4 * t * slope) break;
    }
    if (!(next.f < cur.f)) break;
    const sv = nextTheta.map((v, i) => v - theta[i]!);
    const yv = next.g.map((v, i) => v - cur.g[i]!);
    const relImprovement = (cur.f - next.f) / cur.f;
    theta = nextTheta;
    cur = next;
    let sy = 0;
    for (let i = 0; i < m; i++) sy += sv[i]! * yv[i]!;
    if (sy > 1e-300) {
      // BFGS update of the inverse Hessian: H ← (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ
      const rho = 1 / sy;
      const hy = new Float64Array(m);
      for (let i = 0; i < m; i++) {
        let acc = 0;
        for (let j = 0; j < m; j++) acc += h[i * m + j]! * yv[j]!;
        hy[i] = acc;
      }
      let yhy = 0;
      for (let i = 0; i < m; i++) yhy += yv[i]! * hy[i]!;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          h[i * m + j] = h[i * m + j]! - rho * (hy[i]! * sv[j]! + sv[i]! * hy[j]!) + (rho * rho * yhy + rho) * sv[i]! * sv[j]!;
        }
      }
    }
    if (relImprovement < 1e-10) break;
  }
  unpack(theta);
  return { etas, gammas, tuneLoss: cur.f, iterations };
}
