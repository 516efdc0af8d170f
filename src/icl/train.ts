// Training a transformer on in-context linear regression and measuring how close it comes to gradient descent
// (von Oswald et al. 2023). Reads top to bottom: config → model → Adam loop on fresh tasks → baselines tuned on
// held-out tasks → comparisons on fresh test tasks (and ×2-scaled inputs for out of distribution).
// The LSA trains through the fused float64 kernel (lsa_kernel.ts, tested equal to the module's autograd);
// the softmax transformer through the generic autograd.
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { ConfigError, DivergenceError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { noGrad, type Tensor, tensor } from "../core/tensor.js";
import { IclTransformer } from "../nn/models/icl_transformer.js";
import { LSA, constraintMasks } from "../nn/models/lsa.js";
import { lsaProducts, setGradsFromProducts } from "./lsa_weights.js";
import { Adam } from "../optim/adam.js";
import { clipGradNorm } from "../optim/clip.js";
import { ridgePredict, tuneGd, tuneGdpp } from "./baselines.js";
import { compare, compareOutputs, gdPredictor, gdppPredictor, interpolateProducts, lsaPredictor, type Comparison, type IclPredictor } from "./compare.js";
import { gdStackProducts } from "./construction.js";
import { LsaKernel, zeroProducts, type LsaLayerProducts } from "./lsa_kernel.js";
import { openTaskStream } from "./task_stream.js";
import { meanSquaredError, regressionTaskSchema, sampleTasks, type TaskBatch } from "./tasks.js";

export const LOSS_CONVENTION = "mean squared error (ŷ − y)² on query points, no factor ½ (von Oswald et al. report ½·MSE)";

export const iclConfigSchema = z.object({
  /** the task distribution (d, N, input range, noise, nonlinear) */
  task: regressionTaskSchema.prefault({}),
  /** "lsa": linear self-attention only; "transformer": softmax attention + MLP + LayerNorm */
  model: z.enum(["lsa", "transformer"]).default("lsa"),
  /** number of layers (blocks); matched against that many steps of GD / GD++ */
  layers: z.number().int().min(1).max(16).default(1),
  /** LSA only: the papers' GD-form constraint on W_Q, W_K, W_O */
  constrained: z.boolean().default(false),
  /** optimizer steps, each on a fresh batch of tasks (default: 2000) */
  steps: z.number().int().min(1).max(10_000_000).optional(),
  /** tasks per step (default: 1024 for lsa, 256 for transformer) */
  batch: z.number().int().min(1).max(1_000_000).optional(),
  /** Adam learning rate */
  lr: z.number().positive().max(10).default(1e-3),
  /** Adam β₁, β₂ (the paper's code: 0.9, 0.98) */
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.98]),
  /** Adam ε (the paper's code: 1e-9) */
  eps: z.number().positive().default(1e-9),
  /** global gradient-norm clip (the reference PyTorch run: 0.001) */
  clip: z.number().positive().default(1e-3),
  /** weights ~ N(0, initScale/fan_in) (the paper's VarianceScaling(0.002)) */
  initScale: z.number().positive().max(100).default(0.002),
  /** transformer width */
  dModel: z.number().int().min(4).max(1024).default(32),
  /** transformer attention heads (must divide dModel) */
  heads: z.number().int().min(1).max(64).default(2),
  /** evaluate on the held-out eval tasks every this many steps */
  evalEvery: z.number().int().min(1).default(100),
  /** held-out tasks for the loss curve */
  evalTasks: z.number().int().min(16).default(2048),
  /** held-out tasks on which baselines' learning rates are line-searched */
  tuneTasks: z.number().int().min(16).default(4096),
  /** fresh tasks for the final comparison (and again, ×2 scaled, for OOD) */
  testTasks: z.number().int().min(16).default(10_000),
  /** input scale of the out-of-distribution test */
  oodScale: z.number().positive().default(2),
  /** save a checkpoint every this many steps (and at the end) */
  checkpointEvery: z.number().int().min(1).default(500),
  /** the seed of every random stream (init, train data, eval, tune, test) */
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
});
export type IclConfig = z.output<typeof iclConfigSchema>;
export type IclConfigInput = z.input<typeof iclConfigSchema>;

/** Validates a config (ConfigError naming each bad field) and resolves model-dependent defaults. */
export function iclConfig(input: IclConfigInput, source = "icl config"): IclConfig & { steps: number; batch: number } {
  const c = parseConfig(iclConfigSchema, input, source);
  if (c.model === "transformer" && c.dModel % c.heads !== 0) {
    parseConfig(z.object({ heads: z.number().refine(() => false, `must divide dModel (${c.dModel})`) }), { heads: c.heads }, source);
  }
  const resolved = { ...c, steps: c.steps ?? 2000, batch: c.batch ?? (c.model === "lsa" ? 1024 : 256) };
  // every task set is held in float64: the training ring (3 batches), eval, tune, test and OOD sets
  const { d, n } = c.task;
  const bytes = 8 * (n + 1) * (d + 1) * (3 * resolved.batch + c.evalTasks + c.tuneTasks + 2 * c.testTasks);
  if (bytes > MAX_TASK_BYTES) {
    throw new ConfigError(
      `${source}: d = ${d}, N = ${n} with ${resolved.batch} tasks per step (and ${c.testTasks} test tasks) needs ${(bytes / 2 ** 30).toFixed(1)} GiB of task memory, more than ${MAX_TASK_BYTES / 2 ** 30} GiB`,
      "use a smaller --batch, --n or --d",
    );
  }
  return resolved;
}

/** Upper bound on the memory all task sets of a run may take. */
const MAX_TASK_BYTES = 2 ** 30;

export interface IclCallbacks {
  /** after every step */
  onStep?(step: number, loss: number): void;
  /** a metrics record (CleanRL-style namespaced keys) at every eval */
  onMetrics?(record: { global_step: number } & Record<string, number | null>): void;
  /** persist a checkpoint (state dict in PyTorch layout) */
  onCheckpoint?(step: number, stateDict: Record<string, Tensor>): void;
}

export interface CurvePoint {
  step: number;
  /** mean train loss since the previous point */
  trainLoss: number;
  /** loss on the fixed eval tasks */
  evalLoss: number;
}

export interface IclResult {
  model: "lsa" | "transformer";
  layers: number;
  steps: number;
  /** seconds in the training loop */
  trainSeconds: number;
  /** seconds for baselines and comparisons */
  evalSeconds: number;
  finalTrainLoss: number;
  /** the matched GD baseline: `layers` steps with the line-searched η */
  gd: { steps: number; eta: number };
  /** GD++ with per-layer (η, γ), fitted on the tune tasks (layers > 1) */
  gdpp: { etas: number[]; gammas: number[] } | null;
  /** model vs GD on fresh test tasks */
  vsGd: Comparison;
  /** model vs GD++ on the same test tasks (layers > 1) */
  vsGdpp: Comparison | null;
  /** model vs GD with inputs scaled ×oodScale (η tuned in distribution) */
  oodVsGd: Comparison;
  /** query MSE of the model halfway to the GD construction in (W_KQ, W_PV) (LSA only) */
  interpolatedLoss: number | null;
  /** query MSE of exact least squares and of ridge with λ = σ² (the Bayes-optimal posterior mean) */
  leastSquaresLoss: number;
  ridgeLoss: number;
  /** eval curve and the GD baseline's loss on the same eval tasks */
  curve: CurvePoint[];
  gdEvalLoss: number;
  /** trained per-layer products and the construction's (LSA only), for weight plots */
  products: LsaLayerProducts[] | null;
  construction: LsaLayerProducts[];
}

type Model = LSA | IclTransformer;

/** How to run (never what is computed: results are the same either way). */
export interface IclTrainOptions {
  /** draw training batches on a worker thread while the trainer computes (default true; see task_stream.ts) */
  dataWorker?: boolean;
  /**
   * how an LSA's loss and gradients are computed: "fused" (default) by the float64 kernel, "autograd" by the
   * module's generic tape ops in float32 — the same function, equal to float32 rounding; the ICL bench times both
   */
  lsaPath?: "fused" | "autograd";
}

/** Trains per `config` and compares against the matched baselines. Throws DivergenceError on NaN/inf. */
export async function trainIcl(input: IclConfigInput, callbacks: IclCallbacks = {}, options: IclTrainOptions = {}): Promise<IclResult> {
  const config = iclConfig(input);
  const task = config.task;
  const { d, n } = task;
  const model: Model = config.model === "lsa"
    ? new LSA({ d, layers: config.layers, initScale: config.initScale, constrained: config.constrained }, new Rng(config.seed, "icl-init"))
    : new IclTransformer({ d, layers: config.layers, dModel: config.dModel, heads: config.heads }, new Rng(config.seed, "icl-init"));
  const params = model.parameters();
  const adam = new Adam(params, { lr: config.lr, betas: config.betas, eps: config.eps });
  const evalSet = sampleTasks(task, config.evalTasks, new Rng(config.seed, "icl-eval"));
  const tuneSet = sampleTasks(task, config.tuneTasks, new Rng(config.seed, "icl-tune"));
  const gdTuned = tuneGd(tuneSet, config.layers);
  const gdEvalLoss = meanSquaredError(gdPredictor(config.layers, gdTuned.eta).predict(evalSet).predictions, evalSet.targets);

  const lsaPath = options.lsaPath ?? "fused";
  if (lsaPath !== "fused" && lsaPath !== "autograd") throw new ConfigError(`lsaPath must be "fused" or "autograd", got ${JSON.stringify(lsaPath)}`);
  const kernel = model instanceof LSA && lsaPath === "fused" ? new LsaKernel(config.layers, n, d) : null;
  // the GD-form constraint on the autograd path: masked entries get no gradient, as setGradsFromProducts does
  const masks = model instanceof LSA && kernel === null ? model.blocks.flatMap((b) => constraintMasks(model, b)) : [];
  const grads = zeroProducts(d + 1, config.layers);
  const curve: CurvePoint[] = [];
  let lastGood: { step: number; state: Record<string, Tensor> } = { step: 0, state: snapshot(model) };
  let windowLoss = 0;
  let windowSteps = 0;
  let finalTrainLoss = Number.NaN;
  const start = performance.now();
  let lastYield = start;

  const stream = openTaskStream(task, config.batch, config.seed, "icl-train", { worker: options.dataWorker ?? true });
  try {
    for (let step = 1; step <= config.steps; step++) {
      const tasks = await stream.next();
      let loss: number;
      if (kernel && model instanceof LSA) {
        for (const g of grads) {
          g.kq.fill(0);
          g.pv.fill(0);
        }
        loss = kernel.lossAndGrad(lsaProducts(model), tasks.tokens, tasks.targets, tasks.batch, grads);
        setGradsFromProducts(model, grads);
      } else {
        adam.zeroGrad();
        const lossT = predictTensor(model, tasks).sub(tensor(Float32Array.from(tasks.targets), [tasks.batch])).square().mean();
        lossT.backward();
        loss = lossT.item();
        for (const [p, mask] of masks) if (p.grad) for (let i = 0; i < p.size; i++) p.grad.data[i]! *= mask[i]!;
      }
      if (!Number.isFinite(loss)) diverged(step, loss, config.lr, lastGood, callbacks);
      clipGradNorm(params, config.clip);
      adam.step();
      if (!params.every((p) => p.data.every(Number.isFinite))) diverged(step, Number.NaN, config.lr, lastGood, callbacks);
      finalTrainLoss = loss;
      windowLoss += loss;
      windowSteps++;
      callbacks.onStep?.(step, loss);

      if (step % config.evalEvery === 0 || step === config.steps) {
        const evalLoss = meanSquaredError(predictBatch(model, kernel, evalSet), evalSet.targets);
        const elapsed = (performance.now() - start) / 1000;
        curve.push({ step, trainLoss: windowLoss / windowSteps, evalLoss });
        callbacks.onMetrics?.({
          global_step: step,
          "losses/train_loss": windowLoss / windowSteps,
          "eval/model_loss": evalLoss,
          "eval/gd_loss": gdEvalLoss,
          "charts/steps_per_second": step / elapsed,
        });
        windowLoss = 0;
        windowSteps = 0;
        if (Number.isFinite(evalLoss)) lastGood = { step, state: snapshot(model) };
      }
      if (step % config.checkpointEvery === 0 || step === config.steps) callbacks.onCheckpoint?.(step, snapshot(model));
      // let timers (progress bar redraws) run now and then
      if (performance.now() - lastYield > 100) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
  } finally {
    await stream.close();
  }
  const trainSeconds = (performance.now() - start) / 1000;

  // ── baselines and comparisons on fresh tasks ──
  const evalStart = performance.now();
  const testSet = sampleTasks(task, config.testTasks, new Rng(config.seed, "icl-test"));
  const oodSet = sampleTasks({ ...task, inputScale: task.inputScale * config.oodScale }, config.testTasks, new Rng(config.seed, "icl-ood"));
  const products = model instanceof LSA ? lsaProducts(model) : null;
  const predictor: IclPredictor = products ? lsaPredictor(config.model, products, n, d) : transformerPredictor(model as IclTransformer);
  const gd = gdPredictor(config.layers, gdTuned.eta);
  const modelOut = predictor.predict(testSet);
  const vsGd = compareOutputs(modelOut, gd.predict(testSet), testSet);
  let gdpp: IclResult["gdpp"] = null;
  let vsGdpp: Comparison | null = null;
  if (config.layers > 1) {
    const tuned = tuneGdpp(tuneSet, config.layers);
    gdpp = { etas: tuned.etas, gammas: tuned.gammas };
    vsGdpp = compareOutputs(modelOut, gdppPredictor(tuned.etas, tuned.gammas).predict(testSet), testSet);
  }
  const oodVsGd = compare(predictor, gd, oodSet);
  const construction = gdStackProducts(d, Array<number>(config.layers).fill(gdTuned.eta));
  const interpolatedLoss = products
    ? meanSquaredError(new LsaKernel(config.layers, n, d).predict(interpolateProducts(products, construction), testSet.tokens, testSet.batch), testSet.targets)
    : null;
  const leastSquaresLoss = meanSquaredError(ridgePredict(testSet, 0).predictions, testSet.targets);
  const ridgeLoss = meanSquaredError(ridgePredict(testSet, task.noise ** 2).predictions, testSet.targets);
  return {
    model: config.model,
    layers: config.layers,
    steps: config.steps,
    trainSeconds,
    evalSeconds: (performance.now() - evalStart) / 1000,
    finalTrainLoss,
    gd: { steps: config.layers, eta: gdTuned.eta },
    gdpp,
    vsGd,
    vsGdpp,
    oodVsGd,
    interpolatedLoss,
    leastSquaresLoss,
    ridgeLoss,
    curve,
    gdEvalLoss,
    products,
    construction,
  };
}

function diverged(step: number, loss: number, lr: number, lastGood: { step: number; state: Record<string, Tensor> }, callbacks: IclCallbacks): never {
  callbacks.onCheckpoint?.(lastGood.step, lastGood.state);
  throw new DivergenceError(
    `training diverged at step ${step} (loss ${loss}); the last good weights (step ${lastGood.step}) are saved as a checkpoint`,
    `try a smaller learning rate, e.g. --lr ${lr / 10}`,
  );
}

function snapshot(model: Model): Record<string, Tensor> {
  const sd = model.stateDict();
  for (const k of Object.keys(sd)) sd[k] = sd[k]!.clone();
  return sd;
}

function tokensTensor(tasks: TaskBatch): Tensor {
  return tensor(Float32Array.from(tasks.tokens), [tasks.batch, tasks.n + 1, tasks.d + 1]);
}

function predictTensor(model: Model, tasks: TaskBatch): Tensor {
  return model.forward(tokensTensor(tasks));
}

/** Predictions without gradients (the fused kernel for LSA, chunked autograd-free forward otherwise). */
function predictBatch(model: Model, kernel: LsaKernel | null, tasks: TaskBatch): Float64Array {
  if (kernel && model instanceof LSA) return kernel.predict(lsaProducts(model), tasks.tokens, tasks.batch);
  const { batch, d, n } = tasks;
  const size = (n + 1) * (d + 1);
  const out = new Float64Array(batch);
  for (let b0 = 0; b0 < batch; b0 += 1024) {
    const b1 = Math.min(batch, b0 + 1024);
    const x = tensor(Float32Array.from(tasks.tokens.subarray(b0 * size, b1 * size)), [b1 - b0, n + 1, d + 1]);
    out.set(noGrad(() => model.forward(x)).data, b0);
  }
  return out;
}

/** A softmax transformer as an IclPredictor: sensitivities ∂ŷ/∂x_q by autograd on the input tokens. */
export function transformerPredictor(model: IclTransformer, chunk = 1024): IclPredictor {
  return {
    name: "transformer",
    predict(tasks) {
      const { batch, d, n } = tasks;
      const dim = d + 1;
      const t = n + 1;
      const predictions = new Float64Array(batch);
      const sensitivity = new Float64Array(batch * d);
      for (let b0 = 0; b0 < batch; b0 += chunk) {
        const b1 = Math.min(batch, b0 + chunk);
        const x = tensor(Float32Array.from(tasks.tokens.subarray(b0 * t * dim, b1 * t * dim)), [b1 - b0, t, dim]).requireGrad();
        const y = model.forward(x);
        // tasks are independent, so the gradient of Σ_b ŷ_b with respect to sequence b is ∂ŷ_b/∂tokens_b
        y.sum().backward();
        for (let b = b0; b < b1; b++) {
          predictions[b] = y.data[b - b0]!;
          const q = ((b - b0) * t + n) * dim;
          for (let k = 0; k < d; k++) sensitivity[b * d + k] = x.grad!.data[q + k]!;
        }
        model.zeroGrad();
      }
      return { predictions, sensitivity };
    },
  };
}
