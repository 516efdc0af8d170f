// A small convolutional actor-critic for the grid channels: the IMPALA network (Espeholt et al. 2018, the
// Procgen/CoinRun agents' architecture) reduced for grids of a few to ~20 cells a side. Each stage is a 3×3
// convolution, a 3×3 max-pool with stride 2 (so a 20×20 level is 5×5 after two stages and the dense layer
// stays small) and one residual block relu → conv → relu → conv → + input (IMPALA has two blocks per stage
// and channels 16-32-32; we keep one block and, by default, two stages of 16 and 32 channels). Then relu →
// flatten → dense → relu, and a policy head and a value head on the shared features. Orthogonal init: gain √2
// on the trunk, 0.01 on the policy head, 1 on the value head, zero biases (as CleanRL's procgen PPO).
//
// Hook points (TransformerLens-style names; spatial activations are NCHW [batch, channels, h, w]):
//   trunk.stages.<s>.hook_conv_out          stage s's convolution output, before pooling   [B, C_s, H_s, W_s]
//   trunk.stages.<s>.hook_pool_out          after max-pooling                               [B, C_s, H_s/2, W_s/2]
//   trunk.stages.<s>.block.hook_conv0_out   relu(conv0(relu(x))) inside the residual block  [B, C_s, H_s/2, W_s/2]
//   trunk.stages.<s>.block.hook_resid_out   x + conv1(…), the block's output               [B, C_s, H_s/2, W_s/2]
//   trunk.hook_dense_out                    relu(dense(relu(flatten)))                      [B, dense]
// With `--model-param iterations=R` (R > 1; default 1) the last stage's residual block runs R times with the SAME
// weights, x ← x + conv1(relu(conv0(relu(x)))) each time — a recurrent-in-depth trunk after Schwarzschild et al.
// 2021's "DeepThinking" maze solvers: each pass spreads information one or two positions further (after one
// pooling, about a maze cell per convolution), like a learned value-iteration sweep, without more parameters.
// Then the block's two hook points fire once per pass: a cache (runWithCache) keeps the LAST pass's activation and
// a replacing hook replaces every pass's; each pass t also has its own read/replace point
//   trunk.stages.<last>.hook_iter_out.<t>  the block's output after pass t (t = 0 … R−1)  [B, C, h, w]
// (hook_iter_out.<R−1> is the block's output, as hook_resid_out with R = 1). With R = 1 there are no hook_iter_out
// points and the network is today's, bit for bit. The shared weights' gradients sum over the passes.
// Every ReLU, bias and residual add is fused into the convolution that produces it (one kernel call each), and a
// stage's convolution into its max-pool when no hook reads the convolution's output (conv2dMaxPool: with oneDNN
// that output never leaves its blocked layout; the same outputs, the gradients summed in oneDNN's order).
// Inner activations without a hook attached are transient: their buffers come from the pool and go back to it
// once backward() has freed the graph, or at the end of the forward pass when no gradient will flow (rollouts),
// so a training step reuses warm memory instead of allocating (page faults, GC) every activation afresh.
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { maxPool2d } from "../../core/ops/conv.js";
import { max, sum } from "../../core/ops/reduce.js";
import { mul } from "../../core/ops/elementwise.js";
import { linearAct } from "../../core/ops/fused.js";
import { relu } from "../../core/ops/unary.js";
import { Tensor, releaseBuffer } from "../../core/tensor.js";
import { Conv2d } from "../layers.js";
import { Linear } from "../linear.js";
import { HookPoint, Module } from "../module.js";
import { type ActorCritic, type ActorCriticOutput, type PolicySpec, registerPolicy } from "./policy.js";

/**
 * How the dense layer reads the last stage: every position (IMPALA's flatten), each channel's maximum over
 * positions, or the features at the agent's position (its tile followed through the poolings; a readout that
 * moves with the agent, so what the trunk learns at one place of a whole-level view holds at every other, as an
 * agent-centred view gives, while the activation maps stay aligned with the level's cells).
 */
export type CnnPool = "flatten" | "max" | "agent";
export const CNN_POOLS: readonly CnnPool[] = ["flatten", "max", "agent"];

const TRUNK_INIT = { init: "orthogonal" as const, gain: Math.SQRT2, padding: 1 };

/**
 * Runs `op` and passes its output through `hook`. The output is transient when the trunk collects transients (a
 * stage or block called on its own returns ordinary tensors: its caller may keep them) and no hook is attached (a
 * hook may keep the tensor); a transient output is recorded in `transients`.
 */
function hooked(hook: HookPoint, transients: Tensor[] | undefined, op: (transient: boolean) => Tensor): Tensor {
  const transient = transients !== undefined && hook._hooks.length === 0;
  const out = op(transient);
  if (transient) transients.push(out);
  return hook.forward(out);
}

/** IMPALA's residual block: x + conv1(relu(conv0(relu(x)))), both ReLUs and the add fused into the convs. */
export class ResidualBlock extends Module {
  readonly conv0: Conv2d;
  readonly conv1: Conv2d;
  readonly hook_conv0_out = new HookPoint();
  readonly hook_resid_out = new HookPoint();

  constructor(channels: number, rng: Rng) {
    super();
    this.conv0 = new Conv2d(channels, channels, 3, rng, TRUNK_INIT);
    this.conv1 = new Conv2d(channels, channels, 3, rng, TRUNK_INIT);
  }

  /**
   * `transients`: the trunk's list of transient activations (see ImpalaTrunk.forward); none when omitted.
   * `reluOut`: return relu(x + conv1(…)) from the same kernel call — only when no hook is attached to
   * hook_resid_out, which is defined as the block's output before any ReLU.
   */
  forward(x: Tensor, transients?: Tensor[], reluOut = false): Tensor {
    if (reluOut && this.hook_resid_out._hooks.length > 0) throw new Error("ResidualBlock: reluOut would hide hook_resid_out's activation; apply the ReLU after the block");
    const h = hooked(this.hook_conv0_out, transients, (transient) => this.conv0.forwardFused(x, { reluInput: true, relu: true, transient })); // [B, C, h, w]
    return hooked(this.hook_resid_out, transients, (transient) => this.conv1.forwardFused(h, { residual: x, relu: reluOut, transient })); // [B, C, h, w]
  }
}

/**
 * One IMPALA stage: conv 3×3 → max-pool 3×3 stride 2 (padding 1) → residual block, the block applied `iterations`
 * times with shared weights (1 = IMPALA's stage).
 */
export class ImpalaStage extends Module {
  readonly conv: Conv2d;
  readonly block: ResidualBlock;
  readonly hook_conv_out = new HookPoint();
  readonly hook_pool_out = new HookPoint();
  /** the block's output after each pass, when it runs more than once (none with one pass) */
  readonly hook_iter_out: HookPoint[];

  constructor(inChannels: number, channels: number, rng: Rng, readonly iterations = 1) {
    super();
    if (!(Number.isInteger(iterations) && iterations >= 1)) throw new RangeError(`ImpalaStage: iterations must be a positive integer, got ${iterations}`);
    this.conv = new Conv2d(inChannels, channels, 3, rng, TRUNK_INIT);
    this.block = new ResidualBlock(channels, rng);
    // each pass adds conv1's output to the stream: at IMPALA's init a pass doubles the activations' scale
    // (measured: RMS ×2 per pass, ~2,400 after 12), so an iterated block starts with conv1 scaled by 1/R and the
    // R passes together grow the stream about e-fold, as one pass does (the same random draws either way)
    if (iterations > 1) for (let i = 0; i < this.block.conv1.weight.size; i++) this.block.conv1.weight.data[i]! /= iterations;
    this.hook_iter_out = iterations > 1 ? Array.from({ length: iterations }, () => new HookPoint()) : [];
  }

  /** `transients`: see ImpalaTrunk.forward; `reluOut`: see ResidualBlock.forward (applies to the last pass). */
  forward(x: Tensor, transients?: Tensor[], reluOut = false): Tensor {
    // without a hook on the convolution's output only the pooling reads it: the two run fused where the kernels can
    let h = this.hook_conv_out._hooks.length === 0
      ? hooked(this.hook_pool_out, transients, (transient) => this.conv.forwardPooled(x, 3, { stride: 2, padding: 1, transient })) // [B, C, ⌈H/2⌉, ⌈W/2⌉]
      : hooked(this.hook_pool_out, transients, (transient) => maxPool2d(hooked(this.hook_conv_out, transients, (t) => this.conv.forwardFused(x, { transient: t })), 3, { stride: 2, padding: 1, transient }));
    if (this.iterations === 1) return this.block.forward(h, transients, reluOut);
    for (let t = 0; t < this.iterations; t++) {
      const tap = this.hook_iter_out[t]!;
      const last = t === this.iterations - 1;
      // a pass read by its own hook returns an ordinary tensor (the hook may keep it); the fused ReLU only on the
      // last pass, and only when no hook reads that pass's output before the ReLU
      h = tap.forward(this.block.forward(h, tap._hooks.length === 0 ? transients : undefined, reluOut && last && tap._hooks.length === 0)); // [B, C, h, w]
      if (reluOut && last && tap._hooks.length > 0) h = relu(h);
    }
    return h;
  }
}

/** Spatial size after one stage's pooling (3×3, stride 2, padding 1). */
export function pooledSize(size: number): number {
  return Math.floor((size - 1) / 2) + 1;
}

/** The convolutional trunk: stages, then relu → flatten → dense → relu. */
export class ImpalaTrunk extends Module {
  readonly stages: ImpalaStage[];
  readonly dense: Linear;
  readonly hook_dense_out = new HookPoint();
  /** features after the last stage: channels · height · width, or channels with the global max-pool */
  readonly flatSize: number;

  /** last stage's spatial size */
  readonly outHeight: number;
  readonly outWidth: number;

  /**
   * `pool`: see CnnPool; "agent" needs `agentChannel`, the index of the observation channel that marks the agent's
   * tile (a copy without one reads nothing: zero features).
   */
  /** `iterations`: passes of the last stage's residual block (shared weights; see the header) */
  constructor(readonly inChannels: number, readonly height: number, readonly width: number, stageChannels: readonly number[], denseSize: number, rng: Rng, readonly pool: CnnPool = "flatten", readonly agentChannel = -1, readonly iterations = 1) {
    super();
    if (pool === "agent" && !(agentChannel >= 0 && agentChannel < inChannels)) throw new RangeError(`ImpalaTrunk: pool "agent" needs the agent's channel index in [0, ${inChannels}), got ${agentChannel}`);
    this.stages = [];
    let c = inChannels;
    let h = height;
    let w = width;
    for (const [s, out] of stageChannels.entries()) {
      this.stages.push(new ImpalaStage(c, out, rng, s === stageChannels.length - 1 ? iterations : 1));
      c = out;
      h = pooledSize(h);
      w = pooledSize(w);
    }
    this.outHeight = h;
    this.outWidth = w;
    this.flatSize = pool === "flatten" ? c * h * w : c;
    this.dense = new Linear(this.flatSize, denseSize, rng, { init: "orthogonal", gain: Math.SQRT2 });
  }

  forward(obs: Tensor): Tensor {
    const transients: Tensor[] = [];
    let x = obs; // [B, C, H, W]
    // the trunk's ReLU after the last stage runs inside its last convolution unless a hook reads the block's
    // output before the ReLU (same values and gradients either way: the kernel's ReLU is the op's)
    const last = this.stages[this.stages.length - 1]!;
    const fuseRelu = last.block.hook_resid_out._hooks.length === 0;
    for (const stage of this.stages) x = stage.forward(x, transients, fuseRelu && stage === last);
    const r = fuseRelu ? x : relu(x); // [B, C, h, w]
    const flat =
      this.pool === "max" ? max(r, [2, 3]) : this.pool === "agent" ? sum(mul(r, this.agentMask(obs)), [2, 3]) : r.reshape([x.shape[0]!, this.flatSize]); // [B, C] or [B, C·h·w]
    const features = this.hook_dense_out.forward(linearAct(flat, this.dense.weight, this.dense.bias, "relu")); // [B, dense]
    // no gradient will flow back (rollouts under noGrad): the transient activations are dead already; otherwise
    // each goes back to the pool from its own backward rule once backward() frees the graph
    if (!features.requiresGrad) for (const t of transients) releaseBuffer(t.data);
    return features;
  }

  /**
   * [B, 1, h, w] weights of the last stage's positions at the agent's tile: the tile is followed through each
   * 3×3 stride-2 pooling to the window centred on it (an odd coordinate lies between two windows' centres and
   * splits its weight between them), so the weights sum to 1 per copy.
   */
  agentMask(obs: Tensor): Tensor {
    const B = obs.shape[0]!;
    const H = this.height;
    const W = this.width;
    const h = this.outHeight;
    const w = this.outWidth;
    const mask = new Float32Array(B * h * w);
    const wy = new Float32Array(h);
    const wx = new Float32Array(w);
    const plane = H * W;
    const data = obs.data;
    for (let b = 0; b < B; b++) {
      const base = (b * this.inChannels + this.agentChannel) * plane;
      let at = -1;
      for (let k = 0; k < plane; k++) if (data[base + k]! > 0) { at = k; break; }
      if (at < 0) continue;
      follow(((at / W) | 0), H, this.stages.length, wy);
      follow(at % W, W, this.stages.length, wx);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mask[(b * h + y) * w + x] = wy[y]! * wx[x]!;
    }
    return new Tensor(mask, [B, 1, h, w]);
  }
}

/** Weights over the positions after `stages` poolings (3×3, stride 2, padding 1) of coordinate `at` of `size`, into `out`. */
function follow(at: number, size: number, stages: number, out: Float32Array): void {
  let cur = new Float32Array(size);
  cur[at] = 1;
  let n = size;
  for (let s = 0; s < stages; s++) {
    const m = pooledSize(n);
    const next = new Float32Array(m);
    for (let i = 0; i < n; i++) {
      const v = cur[i]!;
      if (v === 0) continue;
      const lo = (i - (i % 2)) / 2; // the window centred on i, or the one below when i lies between two centres
      const hi = i % 2 === 0 || (i + 1) / 2 >= m ? lo : (i + 1) / 2;
      next[lo]! += v / 2;
      next[hi]! += v / 2;
    }
    cur = next;
    n = m;
  }
  out.set(cur);
}

export class CnnActorCritic extends Module<Tensor, ActorCriticOutput> implements ActorCritic {
  readonly kind = "cnn";
  readonly obsShape: readonly number[];
  readonly numActions: number;
  readonly spec: PolicySpec;
  readonly trunk: ImpalaTrunk;
  /** action logits from the trunk's features */
  readonly policy: Linear;
  /** state value from the trunk's features */
  readonly value: Linear;

  /** spec.hidden: the stage channel widths, then the dense size (default [16, 32, 128]) */
  constructor(spec: PolicySpec, rng: Rng) {
    super();
    if (spec.obsShape.length !== 3) throw new ConfigError(`the cnn policy needs [channels, height, width] observations, got [${spec.obsShape.join(", ")}]`, "use --model mlp for flat observations");
    if (spec.hidden.length < 2 || !spec.hidden.every((v) => Number.isInteger(v) && v > 0)) {
      throw new ConfigError(`the cnn policy's sizes must be one or more stage widths then the dense size (positive integers), got [${spec.hidden.join(", ")}]`, "e.g. --hidden 16,32,128");
    }
    const [c, h, w] = spec.obsShape as [number, number, number];
    const stageChannels = spec.hidden.slice(0, -1);
    const denseSize = spec.hidden[spec.hidden.length - 1]!;
    this.spec = { ...spec, obsShape: [...spec.obsShape], hidden: [...spec.hidden] };
    this.obsShape = spec.obsShape;
    this.numActions = spec.numActions;
    const pool = (spec.options?.pool ?? "flatten") as CnnPool;
    if (!CNN_POOLS.includes(pool)) {
      throw new ConfigError(
        `the cnn policy's pool must be one of ${CNN_POOLS.map((p) => `"${p}"`).join(", ")}, got ${JSON.stringify(pool)}`,
        "--model-param pool=max reads each channel's maximum over the positions (translation-invariant); pool=agent reads the positions at the agent's tile; pool=flatten (the default) reads every position",
      );
    }
    const agentChannel = pool === "agent" ? (spec.env?.channels.indexOf(spec.env.agentChannel) ?? -1) : -1;
    if (pool === "agent" && agentChannel < 0) throw new ConfigError("the cnn policy's pool=agent needs the environment's agent channel, and this policy spec names none", "train it on a grid environment (the run gives the model its env's channels), or use pool=flatten");
    const iterations = spec.options?.iterations ?? 1;
    if (!(typeof iterations === "number" && Number.isInteger(iterations) && iterations >= 1 && iterations <= 64)) {
      throw new ConfigError(`the cnn policy's iterations must be an integer from 1 to 64, got ${JSON.stringify(iterations)}`, "--model-param iterations=12 runs the last stage's residual block 12 times with shared weights; 1 (the default) is IMPALA's single pass");
    }
    this.trunk = new ImpalaTrunk(c, h, w, stageChannels, denseSize, rng, pool, agentChannel, iterations);
    this.policy = new Linear(denseSize, spec.numActions, rng, { init: "orthogonal", gain: 0.01 });
    this.value = new Linear(denseSize, 1, rng, { init: "orthogonal", gain: 1 });
  }

  /** obs [batch, C, h, w] (or flat [batch, C·h·w]) → logits [batch, A], value [batch, 1] */
  forward(obs: Tensor): ActorCriticOutput {
    const x = obs.shape.length === 4 ? obs : obs.reshape([obs.shape[0]!, ...this.obsShape]);
    const features = this.trunk.forward(x); // [batch, dense]
    return { logits: this.policy.forward(features), value: this.value.forward(features) };
  }
}

registerPolicy(
  "cnn",
  "IMPALA-style CNN on the grid channels: per stage conv 3×3 → max-pool /2 → residual block (stages 16, 32), dense 128; --model-param pool=flatten|max|agent, iterations=R (the last block R times, shared weights)",
  [16, 32, 128],
  (spec, rng) => new CnnActorCritic(spec, rng),
);
