// Multi-layer perceptron: Linear layers with an activation between them, hook points on every hidden layer
// (`hook_pre.i` before the activation, `hook_post.i` after — or, with `hooks: "hidden"`, one `hook_hidden_<i>`
// after it, the names PPO's actor and critic towers have always had), PyTorch-style names `layers.i.weight`.
// The one MLP of the library: PPO's towers, the benches and users' models all run this class.
import type { Rng } from "../core/rng.js";
import type { Tensor } from "../core/tensor.js";
import { FUSED_ACTIVATIONS, type FusedActivation, linearAct } from "../core/ops/fused.js";
import { releaseBuffer } from "../core/tensor.js";
import { type ActivationName, activation } from "./activations.js";
import { Linear } from "./linear.js";
import { HookPoint, Module } from "./module.js";
import { ConfigError } from "../core/errors.js";

export interface MLPOptions {
  /** hidden activation (default "tanh") */
  activation?: ActivationName;
  /** "default" (PyTorch) or "orthogonal" (PPO: gain √2 on hidden layers, `outputGain` on the last, zero biases) */
  init?: "default" | "orthogonal";
  /** orthogonal gain of hidden layers (default √2) */
  gain?: number;
  /** orthogonal gain of the output layer (default 1; PPO uses 0.01 for the policy head, 1 for the value head) */
  outputGain?: number;
  /** apply the activation after the last layer too (default false) */
  activateOutput?: boolean;
  /**
   * hook points: "pre-post" (default) — `hook_pre.i` before and `hook_post.i` after each activation; "hidden" —
   * only `hook_hidden_<i>` after it (PPO's towers: `policy.hook_hidden_0`, as in saved probe and detection results)
   */
  hooks?: "pre-post" | "hidden";
}

export class MLP extends Module {
  readonly layers: Linear[];
  /** before each activation (empty with `hooks: "hidden"`) */
  readonly hookPre: HookPoint[];
  /** after each activation (empty with `hooks: "hidden"`: the same points are then `hook_hidden_<i>`) */
  readonly hookPost: HookPoint[];
  // with `hooks: "hidden"`, the property names `hook_hidden_<i>` give the hook names
  [hook: `hook_hidden_${number}`]: HookPoint;
  /** the hook points forward() calls, whatever their names: before (if any) and after each activation */
  private readonly _pre: (HookPoint | null)[];
  private readonly _post: HookPoint[];
  private readonly act: (x: Tensor) => Tensor;
  /** the activation when linearAct can fuse it into the layer, else null */
  private readonly fusedAct: FusedActivation | null;
  private readonly activateOutput: boolean;

  /** sizes = [in, hidden..., out] */
  constructor(sizes: readonly number[], rng: Rng, options: MLPOptions = {}) {
    super();
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new ConfigError(`MLP sizes must be ≥ 2 positive integers [in, ...hidden, out], got [${sizes.join(", ")}]`);
    }
    const actName = options.activation ?? "tanh";
    this.act = activation(actName);
    this.fusedAct = (FUSED_ACTIVATIONS as readonly string[]).includes(actName) ? (actName as FusedActivation) : null;
    this.activateOutput = options.activateOutput ?? false;
    const init = options.init ?? "default";
    const nLayers = sizes.length - 1;
    this.layers = [];
    for (let i = 0; i < nLayers; i++) {
      const last = i === nLayers - 1;
      this.layers.push(new Linear(sizes[i]!, sizes[i + 1]!, rng, { init, gain: last ? (options.outputGain ?? 1) : (options.gain ?? Math.SQRT2) }));
    }
    const nHooks = this.activateOutput ? nLayers : nLayers - 1;
    const hooks = options.hooks ?? "pre-post";
    if (hooks === "pre-post") {
      this.hookPre = Array.from({ length: nHooks }, () => new HookPoint());
      this.hookPost = Array.from({ length: nHooks }, () => new HookPoint());
      this._pre = this.hookPre;
      this._post = this.hookPost;
    } else if (hooks === "hidden") {
      this.hookPre = [];
      this.hookPost = [];
      this._pre = Array.from({ length: nHooks }, () => null);
      this._post = Array.from({ length: nHooks }, (_, i) => (this[`hook_hidden_${i}`] = new HookPoint()));
    } else {
      throw new ConfigError(`MLP hooks must be "pre-post" or "hidden", got ${JSON.stringify(hooks)}`);
    }
  }

  forward(x: Tensor): Tensor {
    const n = this.layers.length;
    // a hidden activation nobody can see (no hooks) is produced by one fused op into a pooled buffer: recycled by
    // backward() once the graph is freed, or here as soon as the next layer has consumed it when no tape is kept
    let pending: Float32Array | null = null;
    for (let i = 0; i < n; i++) {
      const layer = this.layers[i]!;
      const activated = i < n - 1 || this.activateOutput;
      let transient = false;
      const pre = this._pre[i] ?? null;
      if (activated && this.fusedAct !== null && layer.constructor === Linear && (pre === null || pre._hooks.length === 0) && this._post[i]!._hooks.length === 0) {
        transient = i < n - 1;
        x = linearAct(x, layer.weight, layer.bias, this.fusedAct, { transient });
      } else {
        x = layer.forward(x);
        if (activated) {
          if (pre !== null) x = pre.forward(x); // [batch, hidden_i]
          x = this._post[i]!.forward(this.act(x)); // [batch, hidden_i]
        }
      }
      if (pending !== null && !x.requiresGrad) releaseBuffer(pending);
      pending = transient ? x.data : null;
    }
    return x;
  }
}
