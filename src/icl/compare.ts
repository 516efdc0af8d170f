// How alike are a trained in-context learner and an exact baseline (von Oswald et al. 2023 §3)? On the same
// fresh tasks: the test loss of each, the mean squared difference and the cosine of their predictions, the
// cosine of their sensitivities ∂ŷ/∂x_q, and the loss of the model interpolated halfway to the construction.
import { gdPredict, gdppPredict, ridgePredict, type LinearPredictions } from "./baselines.js";
import { LsaKernel, type LsaLayerProducts } from "./lsa_kernel.js";
import { meanSquaredError, type TaskBatch } from "./tasks.js";

/** Anything that predicts y_q and reports ∂ŷ/∂x_q ([batch, d]) on a batch of tasks. */
export interface IclPredictor {
  readonly name: string;
  predict(tasks: TaskBatch): LinearPredictions;
}

export interface Comparison {
  /** query MSE of the model (no ½) */
  modelLoss: number;
  /** query MSE of the baseline (no ½) */
  baselineLoss: number;
  /** mean over tasks of (ŷ_model − ŷ_baseline)² */
  predictionMsd: number;
  /** cosine between the model's and the baseline's vectors of predictions over the batch */
  predictionCosine: number;
  /** mean over tasks of the cosine between the two sensitivity vectors ∂ŷ/∂x_q */
  sensitivityCosine: number;
}

/** Compares `model` with `baseline` on `tasks`. */
export function compare(model: IclPredictor, baseline: IclPredictor, tasks: TaskBatch): Comparison {
  const m = model.predict(tasks);
  const g = baseline.predict(tasks);
  return compareOutputs(m, g, tasks);
}

export function compareOutputs(m: LinearPredictions, g: LinearPredictions, tasks: TaskBatch): Comparison {
  const { batch, d } = tasks;
  let msd = 0;
  for (let b = 0; b < batch; b++) msd += (m.predictions[b]! - g.predictions[b]!) ** 2;
  let sens = 0;
  for (let b = 0; b < batch; b++) sens += cosine(m.sensitivity.subarray(b * d, (b + 1) * d), g.sensitivity.subarray(b * d, (b + 1) * d));
  return {
    modelLoss: meanSquaredError(m.predictions, tasks.targets),
    baselineLoss: meanSquaredError(g.predictions, tasks.targets),
    predictionMsd: msd / batch,
    predictionCosine: cosine(m.predictions, g.predictions),
    sensitivityCosine: sens / batch,
  };
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const { ab, aa, bb } = dotProducts(a, b);
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** ⟨a, b⟩, ⟨a, a⟩ and ⟨b, b⟩ in one sweep. */
function dotProducts(a: ArrayLike<number>, b: ArrayLike<number>): { ab: number; aa: number; bb: number } {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return { ab, aa, bb };
}

/** An LSA stack given by its per-layer products; sensitivities by exact reverse mode (lsa_kernel.ts). */
export function lsaPredictor(name: string, products: readonly LsaLayerProducts[], n: number, d: number): IclPredictor {
  const kernel = new LsaKernel(products.length, n, d);
  return {
    name,
    predict(tasks) {
      const r = kernel.querySensitivity(products, tasks.tokens, tasks.batch);
      const dim = d + 1;
      const sensitivity = new Float64Array(tasks.batch * d);
      for (let b = 0; b < tasks.batch; b++) sensitivity.set(r.sensitivity.subarray(b * dim, b * dim + d), b * d);
      return { predictions: r.predictions, sensitivity };
    },
  };
}

export function gdPredictor(steps: number, eta: number): IclPredictor {
  const etas = Array<number>(steps).fill(eta);
  return { name: `gd_${steps}`, predict: (tasks) => gdPredict(tasks, etas) };
}

export function gdppPredictor(etas: readonly number[], gammas: readonly number[]): IclPredictor {
  return { name: `gdpp_${etas.length}`, predict: (tasks) => gdppPredict(tasks, etas, gammas) };
}

export function ridgePredictor(lambda: number): IclPredictor {
  return { name: lambda === 0 ? "least_squares" : "ridge", predict: (tasks) => ridgePredict(tasks, lambda) };
}

/**
 * The model halfway between a trained LSA stack and a construction, in the construction's parameterisation
 * (the products W_KQ, W_PV of each layer). A layer's function is unchanged by (W_KQ, W_PV) → (c·W_KQ, W_PV/c)
 * for any c ≠ 0, so each trained layer is first brought to the construction's gauge: c is chosen so that
 * c·W_KQ has the construction's Frobenius norm and a non-negative inner product with it. Then both products
 * are averaged entrywise.
 */
export function interpolateProducts(model: readonly LsaLayerProducts[], construction: readonly LsaLayerProducts[], alpha = 0.5): LsaLayerProducts[] {
  return model.map((layer, l) => {
    const target = construction[l]!;
    const c = gaugeScale(layer.kq, target.kq);
    const kq = new Float64Array(layer.kq.length);
    const pv = new Float64Array(layer.pv.length);
    for (let i = 0; i < kq.length; i++) kq[i] = (1 - alpha) * c * layer.kq[i]! + alpha * target.kq[i]!;
    for (let i = 0; i < pv.length; i++) pv[i] = (1 - alpha) * (c === 0 ? 0 : layer.pv[i]! / c) + alpha * target.pv[i]!;
    return { kq, pv };
  });
}

/** The c with ‖c·a‖ = ‖b‖ and c·⟨a, b⟩ ≥ 0 (0 when a is zero). */
export function gaugeScale(a: Float64Array, b: Float64Array): number {
  const { ab, aa, bb } = dotProducts(a, b);
  if (aa === 0) return 0;
  return (ab < 0 ? -1 : 1) * Math.sqrt(bb / aa);
}

/** How a trained layer's products look next to the construction's, in the construction's gauge. */
export interface LayerStructure {
  /** mean of the x-block diagonal of W_KQ (the construction: 1) */
  kqDiagMean: number;
  /** RMS of the x-block off-diagonal of W_KQ (the construction: 0) */
  kqOffDiagRms: number;
  /** RMS of W_KQ's y-row and y-column (the construction: 0) */
  kqYRms: number;
  /** W_PV[d, d], the learning rate −η of the GD step (the construction: −η) */
  pvYY: number;
  /** mean of W_PV's x-block diagonal, −γ of GD++ (plain GD: 0) */
  pvDiagMean: number;
  /** RMS of every other W_PV entry (the construction: 0) */
  pvOtherRms: number;
}

/** Summaries of each trained layer (gauge-fixed to `construction`, see interpolateProducts). */
export function layerStructure(model: readonly LsaLayerProducts[], construction: readonly LsaLayerProducts[]): LayerStructure[] {
  return model.map((layer, l) => {
    const dim = Math.round(Math.sqrt(layer.kq.length));
    const d = dim - 1;
    const c = gaugeScale(layer.kq, construction[l]!.kq);
    const kq = (a: number, b: number): number => c * layer.kq[a * dim + b]!;
    const pv = (a: number, b: number): number => (c === 0 ? 0 : layer.pv[a * dim + b]! / c);
    let diag = 0;
    let off = 0;
    let y = 0;
    let pvDiag = 0;
    let pvOther = 0;
    for (let a = 0; a < dim; a++) {
      for (let b = 0; b < dim; b++) {
        if (a < d && b < d) {
          if (a === b) diag += kq(a, b);
          else off += kq(a, b) ** 2;
        } else y += kq(a, b) ** 2;
        if (a === b && a < d) pvDiag += pv(a, b);
        else if (!(a === d && b === d)) pvOther += pv(a, b) ** 2;
      }
    }
    return {
      kqDiagMean: diag / d,
      kqOffDiagRms: Math.sqrt(off / Math.max(1, d * d - d)),
      kqYRms: Math.sqrt(y / (2 * d + 1)),
      pvYY: pv(d, d),
      pvDiagMean: pvDiag / d,
      pvOtherRms: Math.sqrt(pvOther / (dim * dim - d - 1)),
    };
  });
}
