// Exact (not learned) in-context learners to compare a trained transformer against: K steps of gradient descent
// on the in-context least-squares loss from w₀ = 0 with the learning rate found by line search on held-out
// tasks, GD++ (von Oswald et al. 2023 §4: GD plus an iterative preconditioning x ← (I − γC)x of every token),
// and ridge / least squares. The inner loss is L(w) = 1/(2N) Σ_i (wᵀx_i − y_i)² (the paper's, so η matches
// its construction); every reported loss is the query MSE (ŷ − y)² without ½.
import { ConfigError } from "../core/errors.js";
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
}

/**
 * GD++ with per-layer (η_l, γ_l), fitted on held-out tasks by cyclic coordinate search (golden section on one
 * coordinate at a time, starting from tuned plain GD with γ = 0). The papers learn the same 2K numbers by
 * gradient descent; coordinate search needs no learning rate. With K = 1 the query's prediction does not
 * depend on γ, so GD++ equals GD.
 */
export function tuneGdpp(tuneTasks: TaskBatch, steps: number, sweeps = 3): TunedGdpp {
  const gd = tuneGd(tuneTasks, steps);
  const etas: number[] = Array(steps).fill(gd.eta);
  const gammas: number[] = Array(steps).fill(0);
  const loss = (): number => meanSquaredError(gdppPredict(tuneTasks, etas, gammas).predictions, tuneTasks.targets);
  let current = gd.tuneLoss;
  if (steps === 1) return { etas, gammas, tuneLoss: current };
  const scale = etaScale(tuneTasks) * tuneTasks.d;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let l = 0; l < steps; l++) {
      for (const arr of [gammas, etas]) {
        // the last layer's γ only moves x after the final y-update: it cannot change ŷ
        if (arr === gammas && l === steps - 1) continue;
        const old = arr[l]!;
        const width = Math.max(Math.abs(old), 0.25 * scale);
        const r = minimizeScalar((v) => { arr[l] = v; return loss(); }, old - width, old + width, { grid: 9, tol: 1e-4 });
        if (r.value < current) {
          arr[l] = r.x;
          current = r.value;
        } else arr[l] = old;
      }
    }
  }
  return { etas, gammas, tuneLoss: current };
}
