// Linear probes with honest held-out scores: ridge regression, logistic regression (binary) and softmax
// regression (classes) — and, as an upper-bound control, a one-hidden-layer MLP probe — each on standardised
// features, scored by k-fold cross-validation whose folds keep every group (an episode, a maze) whole, with the
// regularisation strength chosen by an inner k-fold CV on the training folds only. Cell targets ("where is the cheese") on spatial activations [C, h, w] of the grid's size can use a
// spatial probe: one weight per channel shared by every cell plus a bias per cell (a 1×1 convolution followed by
// a softmax over cells), which asks whether the location can be *read off the map*, with C + h·w parameters.
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { wilsonInterval } from "../rl/stats.js";
import { fitStandardizer, lbfgs, matmulF32, solveSpd, type Standardizer, standardizeRows } from "./linalg.js";
import { accuracy, auroc, balancedAccuracy, majorityChance, perClassAccuracy, rSquared } from "./metrics.js";

export type ProbeTask = "regression" | "binary" | "multiclass";
export type ProbeLayout = "flat" | "spatial";
/** linear (ridge, logistic, softmax, spatial) or a one-hidden-layer MLP (the nonlinear upper-bound control) */
export type ProbeFamily = "linear" | "mlp";

/** Features of n samples, row-major [n, d]. */
export interface ProbeFeatures {
  data: Float32Array;
  n: number;
  d: number;
  /** [channels, height, width] when each row is a spatial activation map (needed for the spatial probe) */
  spatial?: readonly [number, number, number];
}

export interface ProbeOptions {
  task: ProbeTask;
  /** linear (default) or mlp: a one-hidden-layer tanh network read out like the linear probe, on the same folds */
  probe?: ProbeFamily;
  /** hidden units of the MLP probe (default DEFAULT_MLP_HIDDEN) */
  mlpHidden?: number;
  /** "spatial" needs spatial features whose height×width equal `cellGrid`; default: spatial when possible */
  layout?: ProbeLayout | "auto";
  /** the target's values are cell indices y·width + x of this grid: per-cell accuracy is reported */
  cellGrid?: { height: number; width: number };
  /** outer folds (default 5) */
  folds?: number;
  /** inner folds that choose the regularisation on each outer training set (default 3) */
  innerFolds?: number;
  /** regularisation strengths tried, relative to the feature scale (default 1e-4, 1e-2, 1; the MLP's weight decay: 1e-4, 1e-3, 1e-2) */
  alphas?: readonly number[];
  /** group id per sample (e.g. episode): a group never spans two folds, so scores are on unseen groups */
  groups?: ArrayLike<number>;
  /** fold assignment seed (default 0) */
  seed?: number;
  /** L-BFGS iteration cap per fit (default 80: enough for the held-out accuracy, bounded on separable data; MLP 200) */
  maxIterations?: number;
  /** flat multiclass probes with more weights (features × classes) use a ridge classifier (default 30 000) */
  maxSoftmaxWeights?: number;
  /**
   * ridge probes with many features beside the samples cross-validate through one Gram matrix per outer fold
   * ("auto", the default; see KernelRidgeFolds); "never" fits every fold and strength on its own rows — the same
   * solutions to rounding, kept for comparison
   */
  gram?: "auto" | "never";
}

export const DEFAULT_ALPHAS: readonly number[] = [1e-4, 1e-2, 1];

/** Held-out scores of a probe (each metric over the pooled out-of-fold predictions). */
export interface ProbeReport {
  task: ProbeTask;
  layout: ProbeLayout;
  probe: ProbeFamily;
  /** ridge, logistic, softmax, ridge-classifier, spatial-softmax, or mlp-<head> (mlp-softmax, mlp-logistic, mlp-regression) */
  method: string;
  samples: number;
  features: number;
  folds: number;
  groups: number;
  /** classification: fraction of held-out samples predicted exactly (with a Wilson 95% interval) */
  accuracy: number | null;
  accuracy_ci95: [number, number] | null;
  /** classification: mean over true classes of the within-class accuracy */
  balanced_accuracy: number | null;
  /** classification: accuracy of always guessing the training folds' most frequent class */
  chance: number | null;
  /** binary: area under the ROC curve of the held-out scores */
  auroc: number | null;
  /** regression: held-out R² (0 = the mean, 1 = perfect) */
  r2: number | null;
  /** regression: held-out mean squared error */
  mse: number | null;
  /** cell targets: accuracy among samples whose target is each cell, [height·width] (null where none) */
  per_cell_accuracy: (number | null)[] | null;
  /** mean of per_cell_accuracy over the cells that occur */
  mean_per_cell_accuracy: number | null;
  cell_grid: { height: number; width: number } | null;
  /** the regularisation strength each outer fold chose */
  alphas_chosen: number[];
  /** held-out prediction per sample: the class, or the regressed value */
  predictions: Float64Array;
  /** binary: the held-out logit of every sample (out of fold), for AUROCs on subsets */
  scores?: Float64Array;
}

// ---- folds ----

/** Fold of each sample: groups shuffled (seeded) then placed greedily into the currently smallest fold. */
export function groupFolds(n: number, k: number, groups: ArrayLike<number> | undefined, seed: number): Int32Array {
  const ids = groups ? Array.from({ length: n }, (_, i) => groups[i]!) : Array.from({ length: n }, (_, i) => i);
  const members = new Map<number, number[]>();
  ids.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  if (members.size < k) {
    throw new ConfigError(`cross-validation needs at least ${k} groups (episodes) for ${k} folds, got ${members.size}`, "collect more episodes (--samples) or use fewer folds (--folds)");
  }
  const order = new Rng(seed, "probe/folds").shuffle([...members.keys()]);
  const fold = new Int32Array(n);
  const size = new Int32Array(k);
  for (const g of order) {
    let best = 0;
    for (let f = 1; f < k; f++) if (size[f]! < size[best]!) best = f;
    for (const i of members.get(g)!) fold[i] = best;
    size[best]! += members.get(g)!.length;
  }
  return fold;
}

/** The rows of fold `f` (held out) and of every other fold (trained on), each in index order. */
function foldRows(fold: Int32Array, f: number): { trainRows: number[]; heldOut: number[] } {
  const trainRows: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < fold.length; i++) (fold[i] === f ? heldOut : trainRows).push(i);
  return { trainRows, heldOut };
}

/** The strength with the highest total validation score (the first of equals). */
function bestAlpha(alphas: readonly number[], totals: Float64Array): number {
  let best = 0;
  for (let k = 1; k < alphas.length; k++) if (totals[k]! > totals[best]!) best = k;
  return alphas[best]!;
}

// ---- learners: fit on standardised features, predict scores ----

/** A probe model family: fits parameters for one regularisation strength and predicts raw scores. */
interface Learner {
  /** parameters for X [n, d] (standardised), targets y; `warm` is a previous solution to start from */
  fit(X: Float32Array, n: number, y: Float64Array, alpha: number, warm: Float64Array | null): Float64Array;
  /** raw outputs: regression values [n], binary logits [n], or class logits [n, K] */
  predict(X: Float32Array, n: number, params: Float64Array): Float32Array;
  /** validation score for choosing alpha: higher is better */
  score(out: Float32Array, n: number, y: Float64Array): number;
  /** ridge only: its outputs and targets, for cross-validation on one Gram matrix (`KernelRidgeFolds`) */
  ridge?: RidgeTargets;
}

/** A ridge learner's K outputs and the [n, K] regression targets its labels become. */
interface RidgeTargets {
  K: number;
  targets: (y: Float64Array, n: number) => Float64Array;
}

/** Centres the [n, K] targets Y in place and returns their column means (the fitted intercepts). */
function centreColumns(Y: Float64Array, n: number, K: number): Float64Array {
  const mean = new Float64Array(K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) mean[k]! += Y[i * K + k]! / n;
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) Y[i * K + k]! -= mean[k]!;
  return mean;
}

/** The ridge penalty λ for strength `alpha` on n samples of d features (relative to the feature scale). */
function ridgeLambda(alpha: number, d: number, n: number): number {
  return alpha * Math.max(1, d / n);
}

/**
 * Ridge with K outputs: minimise mean ‖y − XW − b‖² + λ‖W‖², primal when d ≤ n, dual (n×n Gram) otherwise.
 * `targets` turns the labels into the [n, K] regression targets (K = 1: the values; classes: one-hot).
 */
function ridgeLearner(d: number, K: number, targets: (y: Float64Array, n: number) => Float64Array): Learner {
  return {
    fit(X, n, y, alpha) {
      const Y = targets(y, n); // [n, K]
      const mean = centreColumns(Y, n, K);
      const lambda = ridgeLambda(alpha, d, n);
      const params = new Float64Array(d * K + K);
      params.set(mean, d * K);
      if (d <= n) {
        const G = Float64Array.from(matmulF32(X, X, d, d, n, { transA: true }));
        for (let j = 0; j < d; j++) G[j * d + j]! += n * lambda;
        const B = Float64Array.from(matmulF32(X, Float32Array.from(Y), d, K, n, { transA: true })); // Xᵀ Y
        if (!solveSpd(G, d, B, K)) throw new Error("ridge: normal equations are not positive definite");
        params.set(B);
      } else {
        const G = Float64Array.from(matmulF32(X, X, n, n, d, { transB: true }));
        for (let i = 0; i < n; i++) G[i * n + i]! += n * lambda;
        if (!solveSpd(G, n, Y, K)) throw new Error("ridge: Gram matrix is not positive definite"); // A = (XXᵀ + nλI)⁻¹ Y, W = Xᵀ A
        params.set(matmulF32(X, Float32Array.from(Y), d, K, n, { transA: true }));
      }
      return params;
    },
    predict(X, n, params) {
      const out = matmulF32(X, Float32Array.from(params.subarray(0, d * K)), n, K, d);
      for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) out[i * K + k]! += params[d * K + k]!;
      return out;
    },
    score(out, n, y) {
      const Y = targets(y, n);
      let sse = 0;
      for (let i = 0; i < n * K; i++) sse += (Y[i]! - out[i]!) ** 2;
      return -sse / n;
    },
    ridge: { K, targets },
  };
}

/**
 * Ridge fits on row subsets of one standardised matrix X [n, d] through its Gram matrix X·Xᵀ, computed once: a
 * fit on rows R solves the dual (G[R, R] + |R|·λ·I)·A = Y_R and predicts rows V as G[V, R]·A + intercept — the
 * same ridge solution as the primal or dual fit on X[R] (it is unique), without forming X[R]·X[R]ᵀ or the weights
 * again for every inner fold and strength. Worth it when d is not small beside n (then each fit would be dual anyway).
 */
class KernelRidgeFolds {
  private readonly gram: Float64Array;

  constructor(private readonly X: Float32Array, private readonly n: number, private readonly d: number, private readonly learner: Learner & { ridge: RidgeTargets }) {
    this.gram = Float64Array.from(matmulF32(X, X, n, n, d, { transB: true }));
  }

  /** Dual coefficients [rows, K] and intercepts of the ridge fit on `rows` (indices into X) with strength alpha. */
  private fit(rows: readonly number[], y: Float64Array, alpha: number): { coef: Float64Array; mean: Float64Array } {
    const m = rows.length;
    const { K, targets } = this.learner.ridge;
    const Y = targets(y, m);
    const mean = centreColumns(Y, m, K);
    const G = new Float64Array(m * m);
    for (let a = 0; a < m; a++) {
      const src = rows[a]! * this.n;
      for (let b = 0; b < m; b++) G[a * m + b] = this.gram[src + rows[b]!]!;
      G[a * m + a]! += m * ridgeLambda(alpha, this.d, m);
    }
    if (!solveSpd(G, m, Y, K)) throw new Error("ridge: Gram matrix is not positive definite");
    return { coef: Y, mean };
  }

  /** Outputs [cross rows, K] from a fit's coefficients and cross products C [cross rows, fit rows] (float32). */
  private static outputs(C: Float32Array, rowsOut: number, fit: { coef: Float64Array; mean: Float64Array }, m: number, K: number): Float32Array {
    const out = matmulF32(C, Float32Array.from(fit.coef), rowsOut, K, m);
    for (let i = 0; i < rowsOut; i++) for (let k = 0; k < K; k++) out[i * K + k]! += fit.mean[k]!;
    return out;
  }

  /** Chooses alpha by `innerFolds`-fold group CV over all n rows (as `chooseAlpha` does, on the same folds). */
  chooseAlpha(y: Float64Array, groups: ArrayLike<number> | undefined, alphas: readonly number[], innerFolds: number, seed: number): number {
    const fold = groupFolds(this.n, innerFolds, groups, seed);
    const totals = new Float64Array(alphas.length);
    const { K } = this.learner.ridge;
    for (let f = 0; f < innerFolds; f++) {
      const { trainRows, heldOut: valRows } = foldRows(fold, f);
      const yt = Float64Array.from(trainRows, (i) => y[i]!);
      const yv = Float64Array.from(valRows, (i) => y[i]!);
      const m = trainRows.length;
      const C = new Float32Array(valRows.length * m);
      valRows.forEach((r, a) => {
        const src = r * this.n;
        for (let b = 0; b < m; b++) C[a * m + b] = this.gram[src + trainRows[b]!]!;
      });
      alphas.forEach((alpha, k) => {
        const out = KernelRidgeFolds.outputs(C, valRows.length, this.fit(trainRows, yt, alpha), m, K);
        totals[k]! += this.learner.score(out, valRows.length, yv);
      });
    }
    return bestAlpha(alphas, totals);
  }

  /** Outputs on new standardised rows Xnew [m, d] of the fit on all n rows with strength alpha. */
  predictNew(Xnew: Float32Array, m: number, y: Float64Array, alpha: number): Float32Array {
    const all = Array.from({ length: this.n }, (_, i) => i);
    const C = matmulF32(Xnew, this.X, m, this.n, this.d, { transB: true });
    return KernelRidgeFolds.outputs(C, m, this.fit(all, y, alpha), this.n, this.learner.ridge.K);
  }
}

/** The Gram-matrix path for ridge learners whose features are not few beside the samples (see KernelRidgeFolds). */
function kernelFolds(learner: Learner, X: Float32Array, n: number, d: number, options: ProbeOptions): KernelRidgeFolds | undefined {
  const { ridge } = learner;
  return ridge !== undefined && 2 * d > n && options.gram !== "never" ? new KernelRidgeFolds(X, n, d, { ...learner, ridge }) : undefined;
}

function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/** Mean log-loss of logits [n] against labels 0/1; with `residual`, writes (σ(z) − y)/n there. */
function logisticLoss(z: Float32Array, n: number, y: ArrayLike<number>, residual: Float32Array | null): number {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const zi = z[i]!;
    loss -= y[i]! === 1 ? logSigmoid(zi) : logSigmoid(-zi);
    if (residual) residual[i] = (1 / (1 + Math.exp(-zi)) - y[i]!) / n;
  }
  return loss / n;
}

/** Logistic regression on labels 0/1: mean log-loss + λ/2‖w‖² (bias not penalised), by L-BFGS. */
function logisticLearner(d: number, maxIterations: number): Learner {
  const predict = (X: Float32Array, n: number, params: Float64Array): Float32Array => {
    const out = matmulF32(X, Float32Array.from(params.subarray(0, d)), n, 1, d);
    const b = params[d]!;
    for (let i = 0; i < n; i++) out[i]! += b;
    return out;
  };
  return {
    fit(X, n, y, alpha, warm) {
      const lambda = alpha * Math.max(1, d / n);
      const r = new Float32Array(n);
      const objective = (p: Float64Array, grad: Float64Array): number => {
        const loss = logisticLoss(predict(X, n, p), n, y, r);
        const gw = matmulF32(X, r, d, 1, n, { transA: true });
        let penalty = 0;
        let gb = 0;
        for (let j = 0; j < d; j++) {
          grad[j] = gw[j]! + lambda * p[j]!;
          penalty += p[j]! * p[j]!;
        }
        for (let i = 0; i < n; i++) gb += r[i]!;
        grad[d] = gb;
        return loss + 0.5 * lambda * penalty;
      };
      return lbfgs(objective, warm ?? new Float64Array(d + 1), { maxIterations, gradTolerance: 1e-4, valueTolerance: 1e-7 }).x;
    },
    predict,
    score(out, n, y) {
      return -logisticLoss(out, n, y, null);
    },
  };
}

/**
 * Mean log-softmax of the true class over rows of logits [n, K]; with `residual`, also writes (softmax − onehot)/n
 * there (one exp per logit). Labels outside 0…K−1 (a class the probe has no output for) score log(1/K) − 20.
 */
function softmaxLoss(logits: Float32Array, n: number, K: number, y: ArrayLike<number>, residual: Float32Array | null): number {
  let ll = 0;
  const scratch = residual ?? new Float32Array(K);
  for (let i = 0; i < n; i++) {
    const row = i * K;
    const out = residual ? row : 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < K; k++) if (logits[row + k]! > max) max = logits[row + k]!;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(logits[row + k]! - max);
      scratch[out + k] = e;
      sum += e;
    }
    const c = y[i]!;
    ll += c >= 0 && c < K ? logits[row + c]! - max - Math.log(sum) : -Math.log(K) - 20;
    if (residual) {
      const scale = 1 / (sum * n);
      for (let k = 0; k < K; k++) residual[row + k]! *= scale;
      if (c >= 0 && c < K) residual[row + c]! -= 1 / n;
    }
  }
  return ll / n;
}

/** Softmax regression over K classes (targets are class indices 0…K−1): W [d, K], b [K], by L-BFGS. */
function softmaxLearner(d: number, K: number, maxIterations: number): Learner {
  const predict = (X: Float32Array, n: number, params: Float64Array): Float32Array => {
    const out = matmulF32(X, Float32Array.from(params.subarray(0, d * K)), n, K, d);
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) out[i * K + k]! += params[d * K + k]!;
    return out;
  };
  return {
    fit(X, n, y, alpha, warm) {
      const lambda = alpha * Math.max(1, d / n);
      const residual = new Float32Array(n * K);
      const objective = (p: Float64Array, grad: Float64Array): number => {
        const loss = -softmaxLoss(predict(X, n, p), n, K, y, residual);
        const gW = matmulF32(X, residual, d, K, n, { transA: true });
        let penalty = 0;
        for (let j = 0; j < d * K; j++) {
          grad[j] = gW[j]! + lambda * p[j]!;
          penalty += p[j]! * p[j]!;
        }
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += residual[i * K + k]!;
          grad[d * K + k] = s + lambda * 1e-2 * p[d * K + k]!; // a whisper on the biases keeps unseen classes finite
          penalty += 1e-2 * p[d * K + k]! ** 2;
        }
        return loss + 0.5 * lambda * penalty;
      };
      return lbfgs(objective, warm ?? new Float64Array(d * K + K), { maxIterations, gradTolerance: 1e-4, valueTolerance: 1e-7 }).x;
    },
    predict,
    score(out, n, y) {
      return softmaxLoss(out, n, K, y, null);
    },
  };
}

/**
 * The spatial probe over the cells `cells` (those the target can occupy): features [n, C, P] (P = all grid
 * cells), logit[i, k] = Σ_c w_c·x[i, c, cells[k]] + b_k, softmax over the K candidate cells; targets are indices
 * into `cells`. Products run on a channel-major copy [C, n·K] of the candidate cells, so both directions are
 * single GEMMs.
 */
function spatialLearner(C: number, P: number, cells: readonly number[], maxIterations: number): Learner {
  const K = cells.length;
  const channelMajor = (X: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(C * n * K);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < C; c++) {
        const src = (i * C + c) * P;
        const dst = c * n * K + i * K;
        for (let k = 0; k < K; k++) out[dst + k] = X[src + cells[k]!]!;
      }
    }
    return out;
  };
  const cache = new WeakMap<Float32Array, Float32Array>();
  const major = (X: Float32Array, n: number): Float32Array => {
    let m = cache.get(X);
    if (!m) {
      m = channelMajor(X, n);
      cache.set(X, m);
    }
    return m;
  };
  const predict = (X: Float32Array, n: number, params: Float64Array): Float32Array => {
    const out = matmulF32(Float32Array.from(params.subarray(0, C)), major(X, n), 1, n * K, C);
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) out[i * K + k]! += params[C + k]!;
    return out;
  };
  return {
    fit(X, n, y, alpha, warm) {
      const lambda = alpha;
      const residual = new Float32Array(n * K);
      const Xm = major(X, n);
      const objective = (p: Float64Array, grad: Float64Array): number => {
        const loss = -softmaxLoss(predict(X, n, p), n, K, y, residual);
        const gw = matmulF32(Xm, residual, C, 1, n * K);
        let penalty = 0;
        for (let c = 0; c < C; c++) {
          grad[c] = gw[c]! + lambda * p[c]!;
          penalty += p[c]! * p[c]!;
        }
        grad.fill(0, C);
        for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) grad[C + k]! += residual[i * K + k]!;
        for (let k = 0; k < K; k++) {
          grad[C + k]! += lambda * 1e-2 * p[C + k]!;
          penalty += 1e-2 * p[C + k]! ** 2;
        }
        return loss + 0.5 * lambda * penalty;
      };
      return lbfgs(objective, warm ?? new Float64Array(C + K), { maxIterations, gradTolerance: 1e-4, valueTolerance: 1e-7 }).x;
    },
    predict,
    score(out, n, y) {
      return softmaxLoss(out, n, K, y, null);
    },
  };
}

/**
 * The output layer of a nonlinear probe: K outputs, the mean loss of outputs against the learner's labels, and
 * (into `residual`) its gradient with respect to each output.
 */
interface ProbeHead {
  K: number;
  /** mean loss; with `residual`, writes ∂loss/∂out [n, K] there */
  loss(out: Float32Array, n: number, y: Float64Array, residual: Float32Array | null): number;
}

const SOFTMAX_HEAD = (K: number): ProbeHead => ({ K, loss: (out, n, y, residual) => -softmaxLoss(out, n, K, y, residual) });

const LOGISTIC_HEAD: ProbeHead = { K: 1, loss: logisticLoss };

/** Squared error on targets standardised by the fit (the learner maps outputs back to the target's scale). */
const SQUARED_HEAD: ProbeHead = {
  K: 1,
  loss(out, n, y, residual) {
    let sse = 0;
    for (let i = 0; i < n; i++) {
      const e = out[i]! - y[i]!;
      sse += e * e;
      if (residual) residual[i] = (2 * e) / n;
    }
    return sse / n;
  },
};

/** Hidden units of the MLP probe (`--probe mlp`) unless `mlpHidden` says otherwise. */
export const DEFAULT_MLP_HIDDEN = 64;
/** Weight-decay strengths the MLP probe's inner CV chooses from unless `alphas` says otherwise. */
export const DEFAULT_MLP_ALPHAS: readonly number[] = [1e-4, 1e-3, 1e-2];

/**
 * A one-hidden-layer MLP probe: out = tanh(X·W1 + b1)·W2 + b2 with `head`'s loss + λ/2 (‖W1‖² + ‖W2‖²), by L-BFGS
 * on the full batch (tanh keeps the objective smooth for it). Every fit starts from the same seeded weights (the
 * warm start is ignored: a fit collapsed by strong decay is a poor start for a weaker one), so a fit depends on its
 * rows and strength only. Regression targets are standardised for the fit and the outputs mapped back; the mean and
 * scale travel at the end of the parameters. It answers whether a label is *present* in the features when a
 * linear read does not find it (an upper-bound control for the linear probes, on the same folds).
 */
function mlpLearner(d: number, hidden: number, head: ProbeHead, maxIterations: number, seed: number): Learner {
  const H = hidden;
  const K = head.K;
  const offW2 = d * H + H;
  const offB2 = offW2 + H * K;
  const size = offB2 + K;
  const scaled = head === SQUARED_HEAD; // regression: [mean, scale] of the targets follow the weights
  const initial = (): Float64Array => {
    const rng = new Rng(seed, "probe/mlp");
    const p = new Float64Array(size + (scaled ? 2 : 0));
    const s1 = 1 / Math.sqrt(d);
    const s2 = 1 / Math.sqrt(H);
    for (let j = 0; j < d * H; j++) p[j] = rng.normal() * s1;
    for (let j = 0; j < H * K; j++) p[offW2 + j] = rng.normal() * s2;
    return p;
  };
  /** tanh hidden activations [n, H] and raw outputs [n, K] (before un-standardising) */
  const forward = (X: Float32Array, n: number, p: Float64Array): { A: Float32Array; out: Float32Array } => {
    const A = matmulF32(X, Float32Array.from(p.subarray(0, d * H)), n, H, d);
    for (let i = 0; i < n; i++) for (let h = 0; h < H; h++) A[i * H + h] = Math.tanh(A[i * H + h]! + p[d * H + h]!);
    const out = matmulF32(A, Float32Array.from(p.subarray(offW2, offB2)), n, K, H);
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) out[i * K + k]! += p[offB2 + k]!;
    return { A, out };
  };
  return {
    fit(X, n, y, alpha) {
      const p0 = initial();
      let target = y;
      if (scaled) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += y[i]! / n;
        let variance = 0;
        for (let i = 0; i < n; i++) variance += (y[i]! - mean) ** 2 / n;
        const scale = Math.sqrt(variance) || 1;
        target = Float64Array.from(y, (v) => (v - mean) / scale);
        p0[size] = mean;
        p0[size + 1] = scale;
      }
      const residual = new Float32Array(n * K);
      const objective = (p: Float64Array, grad: Float64Array): number => {
        const { A, out } = forward(X, n, p);
        const loss = head.loss(out, n, target, residual);
        const W2 = Float32Array.from(p.subarray(offW2, offB2));
        const gW2 = matmulF32(A, residual, H, K, n, { transA: true });
        const dZ = matmulF32(residual, W2, n, H, K, { transB: true });
        for (let j = 0; j < n * H; j++) dZ[j]! *= 1 - A[j]! * A[j]!;
        const gW1 = matmulF32(X, dZ, d, H, n, { transA: true });
        grad.fill(0);
        let penalty = 0;
        for (let j = 0; j < d * H; j++) {
          grad[j] = gW1[j]! + alpha * p[j]!;
          penalty += p[j]! * p[j]!;
        }
        for (let i = 0; i < n; i++) for (let h = 0; h < H; h++) grad[d * H + h]! += dZ[i * H + h]!;
        for (let j = 0; j < H * K; j++) {
          grad[offW2 + j] = gW2[j]! + alpha * p[offW2 + j]!;
          penalty += p[offW2 + j]! ** 2;
        }
        for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) grad[offB2 + k]! += residual[i * K + k]!;
        return loss + 0.5 * alpha * penalty;
      };
      // the target's mean and scale are constants of the fit: their gradient stays 0, so L-BFGS leaves them be
      return lbfgs(objective, p0, { maxIterations, gradTolerance: 1e-5, valueTolerance: 1e-9 }).x;
    },
    predict(X, n, params) {
      const { out } = forward(X, n, params);
      if (scaled) for (let i = 0; i < n; i++) out[i] = out[i]! * params[size + 1]! + params[size]!;
      return out;
    },
    score(out, n, y) {
      if (scaled) {
        let sse = 0;
        for (let i = 0; i < n; i++) sse += (out[i]! - y[i]!) ** 2;
        return -sse / n;
      }
      return -head.loss(out, n, y, null);
    },
  };
}

// ---- the fitted probe ----

/** A probe fitted on all the data it was given (for reuse on other inputs, e.g. a detector on new episodes); linear unless `probe: "mlp"`. */
export interface LinearProbe {
  task: ProbeTask;
  layout: ProbeLayout;
  method: string;
  /** the regularisation strength chosen by cross-validation */
  alpha: number;
  standardizer: Standardizer;
  /** learner parameters: [w (d), b] (ridge, logistic), [W (d×K), b (K)] (softmax), [w (C), b (cells)] (spatial) */
  params: Float64Array;
  /** class values, in the order of the softmax outputs (multiclass) */
  classes: number[] | null;
  /** raw features [n, d] → predictions: class value (classification) or regressed value */
  predict(features: Float32Array, n: number): Float64Array;
  /** raw features → scores: logit (binary), value (regression), or the winning class's logit (multiclass) */
  scores(features: Float32Array, n: number): Float64Array;
}

interface Setup {
  learner: Learner;
  method: string;
  layout: ProbeLayout;
  /** standardisation groups of columns (C·h·w spatial: one group per channel) */
  groupSize: number;
  /** target → learner's label (class index for softmax) */
  encode: (y: Float64Array) => Float64Array;
  /** learner outputs → predicted values */
  decode: (out: Float32Array, n: number) => Float64Array;
  classes: number[] | null;
}

function argmaxRows(out: Float32Array, n: number, K: number): Int32Array {
  const best = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let k = 1; k < K; k++) if (out[i * K + k]! > out[i * K + b]!) b = k;
    best[i] = b;
  }
  return best;
}

function resolveLayout(features: ProbeFeatures, options: ProbeOptions): ProbeLayout {
  const grid = options.cellGrid;
  const sp = features.spatial;
  const fits = options.task === "multiclass" && grid !== undefined && sp !== undefined && sp[1] === grid.height && sp[2] === grid.width;
  const layout = options.layout ?? "auto";
  if (layout === "spatial" && !fits) {
    throw new ConfigError(
      `a spatial probe needs a cell target and spatial features of the grid's size${sp && grid ? ` (features are [${sp.join(", ")}], the grid is ${grid.height}×${grid.width})` : ""}`,
      "use --layout flat, or a hook whose activation keeps the grid's height and width",
    );
  }
  return layout === "auto" ? (fits ? "spatial" : "flat") : layout;
}

function setupProbe(features: ProbeFeatures, target: Float64Array, options: ProbeOptions): Setup {
  if (options.probe === "mlp") return setupMlp(features, target, options);
  const maxIterations = options.maxIterations ?? 80;
  const layout = resolveLayout(features, options);
  const identity = (y: Float64Array): Float64Array => y;
  if (layout === "spatial") {
    const [C, h, w] = features.spatial!;
    const P = h * w;
    // the candidate cells: every cell the target occupies in the data (the label space, not which sample has which)
    const cells = [...new Set(target)].filter((c) => c >= 0 && c < P).sort((a, b) => a - b);
    const index = new Map(cells.map((c, k) => [c, k]));
    return {
      learner: spatialLearner(C, P, cells, maxIterations),
      method: "spatial-softmax",
      layout,
      groupSize: P,
      encode: (y) => Float64Array.from(y, (v) => index.get(v) ?? -1),
      decode: (out, n) => Float64Array.from(argmaxRows(out, n, cells.length), (k) => cells[k]!),
      classes: cells,
    };
  }
  if (options.task === "regression") {
    return { learner: ridgeLearner(features.d, 1, (y) => Float64Array.from(y)), method: "ridge", layout, groupSize: 1, encode: identity, decode: (out) => Float64Array.from(out), classes: null };
  }
  if (options.task === "binary") {
    for (const v of target) if (v !== 0 && v !== 1) throw new ConfigError(`a binary probe needs labels 0 and 1, got ${v}`, "choose --task multiclass or regression for this target");
    return {
      learner: logisticLearner(features.d, maxIterations),
      method: "logistic",
      layout,
      groupSize: 1,
      encode: identity,
      decode: (out) => Float64Array.from(out, (z) => (z > 0 ? 1 : 0)),
      classes: null,
    };
  }
  const classes = [...new Set(target)].sort((a, b) => a - b);
  const index = new Map(classes.map((c, k) => [c, k]));
  const K = classes.length;
  // softmax regression costs two [n, d]·[d, K] products per L-BFGS step; past ~30k weights a ridge
  // classifier (least squares on one-hot targets, argmax; one factorisation per alpha) is used instead
  const oneHot = (y: Float64Array, n: number): Float64Array => {
    const Y = new Float64Array(n * K);
    for (let i = 0; i < n; i++) if (y[i]! >= 0) Y[i * K + y[i]!] = 1;
    return Y;
  };
  const large = features.d * K > (options.maxSoftmaxWeights ?? 30_000);
  return {
    learner: large ? ridgeLearner(features.d, K, oneHot) : softmaxLearner(features.d, K, maxIterations),
    method: large ? "ridge-classifier" : "softmax",
    layout,
    groupSize: 1,
    encode: (y) => Float64Array.from(y, (v) => index.get(v) ?? -1),
    decode: (out, n) => Float64Array.from(argmaxRows(out, n, K), (k) => classes[k]!),
    classes,
  };
}

/** The MLP probe on flat features, with the head and label coding of the task. */
function setupMlp(features: ProbeFeatures, target: Float64Array, options: ProbeOptions): Setup {
  if (options.layout === "spatial") throw new ConfigError("the MLP probe reads flat features; a spatial layout is a linear probe", "drop --layout spatial, or use --probe linear");
  const hidden = options.mlpHidden ?? DEFAULT_MLP_HIDDEN;
  if (!Number.isInteger(hidden) || hidden < 1) throw new ConfigError(`the MLP probe needs a positive whole number of hidden units, got ${hidden}`);
  const maxIterations = options.maxIterations ?? 200;
  const seed = options.seed ?? 0;
  const common = { layout: "flat" as const, groupSize: 1 };
  if (options.task === "regression") {
    return { ...common, learner: mlpLearner(features.d, hidden, SQUARED_HEAD, maxIterations, seed), method: "mlp-regression", encode: (y) => y, decode: (out) => Float64Array.from(out), classes: null };
  }
  if (options.task === "binary") {
    for (const v of target) if (v !== 0 && v !== 1) throw new ConfigError(`a binary probe needs labels 0 and 1, got ${v}`, "choose --task multiclass or regression for this target");
    return { ...common, learner: mlpLearner(features.d, hidden, LOGISTIC_HEAD, maxIterations, seed), method: "mlp-logistic", encode: (y) => y, decode: (out) => Float64Array.from(out, (z) => (z > 0 ? 1 : 0)), classes: null };
  }
  const classes = [...new Set(target)].sort((a, b) => a - b);
  const index = new Map(classes.map((c, k) => [c, k]));
  return {
    ...common,
    learner: mlpLearner(features.d, hidden, SOFTMAX_HEAD(classes.length), maxIterations, seed),
    method: "mlp-softmax",
    encode: (y) => Float64Array.from(y, (v) => index.get(v) ?? -1),
    decode: (out, n) => Float64Array.from(argmaxRows(out, n, classes.length), (k) => classes[k]!),
    classes,
  };
}

/** Chooses alpha by k-fold CV on the rows of the standardised matrix Xs (through `kernel`'s Gram matrix when given). */
function chooseAlpha(setup: Setup, Xs: Float32Array, d: number, y: Float64Array, groups: ArrayLike<number> | undefined, alphas: readonly number[], innerFolds: number, seed: number, kernel?: KernelRidgeFolds): number {
  if (alphas.length === 1) return alphas[0]!;
  if (kernel) return kernel.chooseAlpha(y, groups, alphas, innerFolds, seed);
  const n = y.length;
  const fold = groupFolds(n, innerFolds, groups, seed);
  const totals = new Float64Array(alphas.length);
  // strongest regularisation first: each fit warm-starts the next, weaker one
  const order = alphas.map((a, k) => [a, k] as const).sort((p, q) => q[0] - p[0]);
  for (let f = 0; f < innerFolds; f++) {
    const { trainRows, heldOut: valRows } = foldRows(fold, f);
    const Xt = gatherRows(Xs, d, trainRows);
    const Xv = gatherRows(Xs, d, valRows);
    const yt = Float64Array.from(trainRows, (i) => y[i]!);
    const yv = Float64Array.from(valRows, (i) => y[i]!);
    let warm: Float64Array | null = null;
    for (const [alpha, k] of order) {
      warm = setup.learner.fit(Xt, trainRows.length, yt, alpha, warm);
      totals[k]! += setup.learner.score(setup.learner.predict(Xv, valRows.length, warm), valRows.length, yv);
    }
  }
  return bestAlpha(alphas, totals);
}

function gatherRows(X: Float32Array, d: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, k) => out.set(X.subarray(r * d, (r + 1) * d), k * d));
  return out;
}

function checkInputs(features: ProbeFeatures, target: ArrayLike<number>): void {
  const { data, n, d } = features;
  if (data.length !== n * d) throw new ConfigError(`probe features hold ${data.length} values, not n·d = ${n}·${d}`);
  if (target.length !== n) throw new ConfigError(`probe target has ${target.length} values for ${n} samples`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(target[i]!)) throw new ConfigError(`probe target ${i} is ${target[i]}`, "drop samples without a label before probing");
}

function alphasOf(options: ProbeOptions): readonly number[] {
  const alphas = options.alphas ?? (options.probe === "mlp" ? DEFAULT_MLP_ALPHAS : DEFAULT_ALPHAS);
  if (alphas.length === 0 || alphas.some((a) => !(a > 0) || !Number.isFinite(a))) throw new ConfigError(`probe alphas must be positive numbers, got [${alphas.join(", ")}]`);
  return alphas;
}

/**
 * Cross-validated probe: for each of `folds` group folds, standardise on the training folds, choose alpha by
 * inner CV there, fit, and predict the held-out fold; every metric is computed over the pooled held-out
 * predictions, so each sample is scored by a probe that never saw its group.
 */
export function crossValidateProbe(features: ProbeFeatures, target: ArrayLike<number>, options: ProbeOptions): ProbeReport {
  checkInputs(features, target);
  const { data: X, n, d } = features;
  const y = Float64Array.from(target);
  const k = options.folds ?? 5;
  const innerFolds = options.innerFolds ?? 3;
  const alphas = alphasOf(options);
  const seed = options.seed ?? 0;
  const setup = setupProbe(features, y, options);
  const fold = groupFolds(n, k, options.groups, seed);
  const predictions = new Float64Array(n);
  const scores = new Float64Array(n);
  const chanceHits: number[] = [];
  const chosen: number[] = [];
  for (let f = 0; f < k; f++) {
    const { trainRows, heldOut: testRows } = foldRows(fold, f);
    const st = fitStandardizer(X, d, trainRows, setup.groupSize);
    const Xt = standardizeRows(X, d, trainRows, st);
    const Xv = standardizeRows(X, d, testRows, st);
    const yt = setup.encode(Float64Array.from(trainRows, (i) => y[i]!));
    const trainGroups = options.groups ? trainRows.map((i) => options.groups![i]!) : undefined;
    const kernel = kernelFolds(setup.learner, Xt, trainRows.length, d, options);
    const alpha = chooseAlpha(setup, Xt, d, yt, trainGroups, alphas, innerFolds, seed + 1 + f, kernel);
    chosen.push(alpha);
    const out = kernel ? kernel.predictNew(Xv, testRows.length, yt, alpha) : setup.learner.predict(Xv, testRows.length, setup.learner.fit(Xt, trainRows.length, yt, alpha, null));
    const decoded = setup.decode(out, testRows.length);
    testRows.forEach((i, r) => {
      predictions[i] = decoded[r]!;
      scores[i] = out[r]!; // binary logit / regression value (unused for classes)
    });
    if (options.task !== "regression") {
      const trainY = trainRows.map((i) => y[i]!);
      chanceHits.push(majorityChance(trainY, testRows.map((i) => y[i]!)) * testRows.length);
    }
  }
  const report: ProbeReport = {
    task: options.task,
    layout: setup.layout,
    probe: options.probe ?? "linear",
    method: setup.method,
    samples: n,
    features: d,
    folds: k,
    groups: new Set(options.groups ? Array.from(options.groups) : Array.from({ length: n }, (_, i) => i)).size,
    accuracy: null,
    accuracy_ci95: null,
    balanced_accuracy: null,
    chance: null,
    auroc: null,
    r2: null,
    mse: null,
    per_cell_accuracy: null,
    mean_per_cell_accuracy: null,
    cell_grid: options.cellGrid ?? null,
    alphas_chosen: chosen,
    predictions,
  };
  if (options.task === "regression") {
    report.r2 = rSquared(predictions, y);
    let sse = 0;
    for (let i = 0; i < n; i++) sse += (predictions[i]! - y[i]!) ** 2;
    report.mse = sse / n;
    return report;
  }
  const acc = accuracy(predictions, y);
  report.accuracy = acc;
  report.accuracy_ci95 = wilsonInterval(Math.round(acc * n), n).ci95;
  report.balanced_accuracy = balancedAccuracy(predictions, y);
  report.chance = chanceHits.reduce((a, b) => a + b, 0) / n;
  if (options.task === "binary") {
    report.auroc = auroc(scores, y);
    report.scores = scores;
  }
  if (options.cellGrid) {
    const cells = options.cellGrid.height * options.cellGrid.width;
    const per = perClassAccuracy(predictions, y);
    const map: (number | null)[] = new Array<number | null>(cells).fill(null);
    let sum = 0;
    for (const [cell, [hits, count]] of per) {
      if (cell >= 0 && cell < cells) map[cell] = hits / count;
      sum += hits / count;
    }
    report.per_cell_accuracy = map;
    report.mean_per_cell_accuracy = per.size > 0 ? sum / per.size : null;
  }
  return report;
}

/** Fits a probe on all samples (alpha by CV over them) for use on new inputs. */
export function trainProbe(features: ProbeFeatures, target: ArrayLike<number>, options: ProbeOptions): LinearProbe {
  checkInputs(features, target);
  const { data: X, n, d } = features;
  const y = Float64Array.from(target);
  const setup = setupProbe(features, y, options);
  const rows = Array.from({ length: n }, (_, i) => i);
  const st = fitStandardizer(X, d, rows, setup.groupSize);
  const Xs = standardizeRows(X, d, rows, st);
  const ye = setup.encode(y);
  const alpha = chooseAlpha(setup, Xs, d, ye, options.groups, alphasOf(options), options.innerFolds ?? 3, options.seed ?? 0, kernelFolds(setup.learner, Xs, n, d, options));
  const params = setup.learner.fit(Xs, n, ye, alpha, null);
  const run = (features: Float32Array, m: number): Float32Array => {
    if (features.length !== m * d) throw new ConfigError(`probe expects ${d} features per sample, got ${features.length / Math.max(m, 1)}`);
    return setup.learner.predict(standardizeRows(features, d, Array.from({ length: m }, (_, i) => i), st), m, params);
  };
  return {
    task: options.task,
    layout: setup.layout,
    method: setup.method,
    alpha,
    standardizer: st,
    params,
    classes: setup.classes,
    predict: (f, m) => setup.decode(run(f, m), m),
    scores: (f, m) => {
      const out = run(f, m);
      if (options.task !== "multiclass") return Float64Array.from(out);
      const K = out.length / m;
      const best = argmaxRows(out, m, K);
      return Float64Array.from(best, (b, i) => out[i * K + b]!);
    },
  };
}
