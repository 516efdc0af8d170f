// Steering vectors: the mean difference of a hook's activations between two sets of inputs (with and without
// the cheese), added back at that hook with a coefficient during the forward pass. Judged by behaviour: the
// policy is run with the vector for many episodes and its goal and proxy rates are compared with the unsteered
// policy's on the same levels. The "cheese vector" of Turner et al. 2023 is computed per maze, from the maze's
// first observation with and without the cheese, and applied at every step of that maze's episode; the
// "mean" variant is one vector averaged over many mazes.
import { HookError, ShapeError } from "../core/errors.js";
import { shapeStr } from "../core/shape.js";
import type { Rng } from "../core/rng.js";
import { noGrad, Tensor } from "../core/tensor.js";
import type { VecEnv } from "../envs/engine.js";
import type { HookFn, Module } from "../nn/module.js";
import type { ActorCritic } from "../nn/models/policy.js";
import type { ActionSource } from "../rl/evaluate.js";
import { sampleCategorical } from "../rl/sample.js";
import { withoutChannel } from "./observations.js";

/** The activation at `hook` for `input` (no gradients kept). */
export function hookActivation(model: Module<Tensor, unknown>, hook: string, input: Tensor): Tensor {
  const { cache } = noGrad(() => model.runWithCache(input, { names: [hook], detach: true }));
  return cache.get(hook)!;
}

/** act(a_b) − act(b_b) at `hook` for every pair: [batch, ...activation shape]. */
export function differenceVectors(model: Module<Tensor, unknown>, hook: string, a: Tensor, b: Tensor): Tensor {
  if (a.shape[0] !== b.shape[0]) throw new ShapeError(`differenceVectors: ${a.shape[0]} inputs vs ${b.shape[0]}`, "pass paired batches of the same size");
  const x = hookActivation(model, hook, a);
  const y = hookActivation(model, hook, b);
  const out = new Float32Array(x.size);
  for (let k = 0; k < out.length; k++) out[k] = x.data[k]! - y.data[k]!;
  return new Tensor(out, x.shape);
}

/** The mean over the batch of act(a) − act(b) at `hook`: one vector of the activation's per-sample shape. */
export function meanDifferenceVector(model: Module<Tensor, unknown>, hook: string, a: Tensor, b: Tensor): Tensor {
  const diff = differenceVectors(model, hook, a, b);
  const B = diff.shape[0]!;
  const size = diff.size / B;
  const mean = new Float32Array(size);
  for (let i = 0; i < B; i++) for (let k = 0; k < size; k++) mean[k]! += diff.data[i * size + k]! / B;
  return new Tensor(mean, diff.shape.slice(1));
}

/**
 * A hook adding coef·vector to the activation. `vector` is one sample's shape (added to every sample) or
 * [batch, ...] (one vector per sample); any other shape is a HookError naming both.
 */
export function addVectorHook(vector: Tensor, coef: number): HookFn {
  return (activation, name) => {
    const per = activation.shape.slice(1);
    const single = vector.shape.length === per.length && per.every((s, k) => s === vector.shape[k]);
    const batched = vector.shape.length === activation.shape.length && activation.shape.every((s, k) => s === vector.shape[k]);
    if (!single && !batched) {
      throw new HookError(
        `steering vector of shape ${shapeStr(vector.shape)} does not fit hook ${name}, whose activation is ${shapeStr(per)} per sample (${shapeStr(activation.shape)} with the batch)`,
        "compute the vector at the same hook of the same architecture",
      );
    }
    if (coef === 0) return undefined;
    const out = activation.data.slice();
    const size = vector.size;
    for (let k = 0; k < out.length; k++) out[k]! += coef * vector.data[single ? k % size : k]!;
    return new Tensor(out, activation.shape);
  };
}

/** What to add at the hook: one fixed vector, or a vector per episode computed from its first observation. */
export type SteeringVector =
  | { kind: "fixed"; vector: Tensor }
  /** act(obs) − act(obs with `channel` cleared), from each episode's first observation (the per-maze cheese vector) */
  | { kind: "per-episode"; channel: number };

export interface SteeringOptions {
  hook: string;
  coef: number;
  vector: SteeringVector;
  greedy?: boolean;
}

/**
 * An ActionSource (for rl.evaluate) running `policy` with the steering vector added at the hook. A per-episode
 * vector is the difference the object makes to the episode's first observation, and stays fixed to the level: with
 * the whole level observed it is computed once per episode (the study's cheese vector); with an agent-centred
 * window the first observation's level is seen again through the window where the agent stands now, and the
 * vector recomputed whenever the window has moved — so it stays on the cheese's cell instead of following the agent
 * (the first observation's vector applied after a move would sit where the cheese was relative to the agent).
 */
export function steeredActions(policy: ActorCritic, rng: Rng, options: SteeringOptions): ActionSource {
  let perCopy: Float32Array | null = null;
  let vectorShape: number[] = [];
  /** per copy: the whole-level channels at its episode's first step, and the window origin its vector was computed at */
  let startLevels: Float32Array | null = null;
  let origins: Int32Array | null = null;
  return (env: VecEnv, actions: Int32Array) => {
    const obsShape = env.obsShape;
    const input = new Tensor(env.obs, [env.n, ...obsShape]);
    let vector: Tensor;
    if (options.vector.kind === "fixed") vector = options.vector.vector;
    else {
      const levelSize = env.numChannels * env.height * env.width;
      const level = env.windowed ? env.levelChannels : env.obs;
      startLevels ??= new Float32Array(env.n * levelSize);
      origins ??= new Int32Array(2 * env.n);
      const stale: number[] = [];
      for (let i = 0; i < env.n; i++) {
        const [oy, ox] = env.viewOrigin(i);
        const starting = env.episodeStep[i] === 0 || perCopy === null;
        if (starting) for (let k = 0; k < levelSize; k++) startLevels[i * levelSize + k] = level[i * levelSize + k]!;
        if (starting || origins[2 * i] !== oy || origins[2 * i + 1] !== ox) {
          stale.push(i);
          origins[2 * i] = oy;
          origins[2 * i + 1] = ox;
        }
      }
      if (stale.length > 0) {
        const chw = obsShape[0] * obsShape[1] * obsShape[2];
        const rows = new Float32Array(stale.length * chw);
        stale.forEach((i, k) => env.windowOf(startLevels!, i * levelSize, i, rows, k * chw));
        const a = new Tensor(rows, [stale.length, ...obsShape]);
        const b = new Tensor(withoutChannel(rows, obsShape, options.vector.channel), [stale.length, ...obsShape]);
        const diff = differenceVectors(policy, options.hook, a, b);
        vectorShape = diff.shape.slice(1);
        const size = diff.size / stale.length;
        perCopy ??= new Float32Array(env.n * size);
        stale.forEach((i, k) => perCopy!.set(diff.data.subarray(k * size, (k + 1) * size), i * size));
      }
      vector = new Tensor(perCopy!, [env.n, ...vectorShape]);
    }
    const { logits } = noGrad(() => policy.runWithHooks(input, { [options.hook]: addVectorHook(vector, options.coef) }));
    sampleCategorical(logits.data, env.n, env.numActions, rng, actions, undefined, options.greedy ?? false);
  };
}

/** An ActionSource running `policy` on observations with channel `channel` cleared (the object hidden from it). */
export function hiddenChannelActions(policy: ActorCritic, rng: Rng, channel: number, greedy = false): ActionSource {
  return (env: VecEnv, actions: Int32Array) => {
    const input = new Tensor(withoutChannel(env.obs, env.obsShape, channel), [env.n, ...env.obsShape]);
    const { logits } = noGrad(() => policy.forward(input));
    sampleCategorical(logits.data, env.n, env.numActions, rng, actions, undefined, greedy);
  };
}
