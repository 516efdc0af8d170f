// In-context regression tasks as token sequences (von Oswald et al. 2023; Garg et al. 2022): each sequence
// holds N context tokens e_i = (x_i, y_i) and one query token (x_q, 0); the model must predict y_q.
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import type { Rng } from "../core/rng.js";

export const regressionTaskSchema = z.object({
  /** input dimension d (tokens have d + 1 entries: x then y) */
  d: z.number().int().min(1).max(256).default(10),
  /** number of context points N per sequence (the query comes after them) */
  n: z.number().int().min(1).max(1024).default(10),
  /** inputs are drawn x ~ U(-xRange, xRange)^d; 1 is the paper's text, 0.5 its released code */
  xRange: z.number().positive().max(1e3).default(1),
  /** multiplies every input after drawing (context and query); 2 gives the out-of-distribution test */
  inputScale: z.number().positive().max(1e3).default(1),
  /** standard deviation σ of Gaussian noise added to every target, context and query alike */
  noise: z.number().min(0).max(1e3).default(0),
  /** targets from a random 2-layer ReLU network instead of a linear map (Garg et al. 2022) */
  nonlinear: z.boolean().default(false),
  /** hidden width r of the random network of the nonlinear variant */
  hidden: z.number().int().min(1).max(4096).default(100),
});
export type RegressionTaskConfig = z.output<typeof regressionTaskSchema>;
export type RegressionTaskInput = z.input<typeof regressionTaskSchema>;

/** A batch of sequences. Row-major; the query is the last token of each sequence. */
export interface TaskBatch {
  readonly batch: number;
  readonly d: number;
  readonly n: number;
  /** [batch, n + 1, d + 1]: context tokens (x_i, y_i), then the query (x_q, 0) */
  readonly tokens: Float64Array;
  /** [batch]: the query's target y_q */
  readonly targets: Float64Array;
  /** [batch, d]: the task's weight vector w (linear tasks only; noise excluded) */
  readonly weights: Float64Array | null;
}

/** Validates a task config (ConfigError naming the field on bad input). */
export function taskConfig(input: RegressionTaskInput = {}, source = "task config"): RegressionTaskConfig {
  return parseConfig(regressionTaskSchema, input, source);
}

/**
 * Draws `batch` independent tasks (into `reuse`'s buffers when it has the same shape). Linear: w ~ N(0, I_d), y = wᵀx (+ σε). Nonlinear: y = Σ_k α_k relu(v_kᵀx)
 * (+ σε) with v_k ~ N(0, I_d), α_k ~ N(0, 2/r) — the same target variance scale as the linear task.
 */
export function sampleTasks(config: RegressionTaskConfig, batch: number, rng: Rng, reuse?: TaskBatch): TaskBatch {
  const { d, n, xRange, inputScale, noise } = config;
  const t = n + 1;
  const dim = d + 1;
  // a training loop passes last step's batch back in so that no step allocates
  const fits = reuse !== undefined && reuse.batch === batch && reuse.d === d && reuse.n === n && (reuse.weights === null) === config.nonlinear;
  const tokens = fits ? reuse.tokens : new Float64Array(batch * t * dim);
  const targets = fits ? reuse.targets : new Float64Array(batch);
  const weights = fits ? reuse.weights : config.nonlinear ? null : new Float64Array(batch * d);
  const r = config.hidden;
  const net = config.nonlinear ? { v: new Float64Array(r * d), alpha: new Float64Array(r) } : null;
  const lo = -xRange;
  const span = 2 * xRange;
  for (let b = 0; b < batch; b++) {
    if (weights) for (let k = 0; k < d; k++) weights[b * d + k] = rng.normal();
    if (net) {
      rng.fillNormal(net.v);
      rng.fillNormal(net.alpha, 0, Math.sqrt(2 / r));
    }
    const base = b * t * dim;
    const wOff = b * d;
    for (let i = 0; i < t; i++) {
      const row = base + i * dim;
      let y = 0;
      if (weights) {
        // draw x and accumulate wᵀx in the same sweep
        for (let k = 0; k < d; k++) {
          const x = (lo + span * rng.float()) * inputScale;
          tokens[row + k] = x;
          y += weights[wOff + k]! * x;
        }
      } else if (net) {
        for (let k = 0; k < d; k++) tokens[row + k] = (lo + span * rng.float()) * inputScale;
        for (let h = 0; h < r; h++) {
          let pre = 0;
          for (let k = 0; k < d; k++) pre += net.v[h * d + k]! * tokens[row + k]!;
          if (pre > 0) y += net.alpha[h]! * pre;
        }
      }
      if (noise > 0) y += noise * rng.normal();
      if (i < n) tokens[row + d] = y;
      else {
        targets[b] = y;
        tokens[row + d] = 0; // the query's y-slot
      }
    }
  }
  return { batch, d, n, tokens, targets, weights };
}

/** Mean squared error (ŷ − y)² over the batch — no factor ½ (von Oswald et al. report ½·MSE). */
export function meanSquaredError(predictions: ArrayLike<number>, targets: ArrayLike<number>): number {
  let s = 0;
  for (let b = 0; b < targets.length; b++) {
    const e = predictions[b]! - targets[b]!;
    s += e * e;
  }
  return s / targets.length;
}
