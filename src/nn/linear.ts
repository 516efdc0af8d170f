// Linear layer with PyTorch layout (weight [out, in], bias [out]) and the fused x·Wᵀ + b op.
import type { Rng } from "../core/rng.js";
import { linear } from "../core/ops/matmul.js";
import { type Tensor, zeros } from "../core/tensor.js";
import { defaultInit, orthogonalInit } from "./init.js";
import { Module, Parameter } from "./module.js";

export interface LinearOptions {
  /** include a bias (default true) */
  bias?: boolean;
  /** "default" = PyTorch's U(±1/√in); "orthogonal" = orthogonal weight × gain and zero bias (PPO) */
  init?: "default" | "orthogonal";
  /** gain for orthogonal init (default √2, CleanRL's layer_init) */
  gain?: number;
}

export class Linear extends Module {
  readonly weight: Parameter; // [out, in]
  readonly bias: Parameter | null; // [out]
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, rng: Rng, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const w = zeros([outFeatures, inFeatures]);
    const useBias = options.bias ?? true;
    const b = zeros([outFeatures]);
    if ((options.init ?? "default") === "orthogonal") {
      orthogonalInit(w.data, rng, outFeatures, inFeatures, options.gain ?? Math.SQRT2);
    } else {
      defaultInit(w.data, rng, inFeatures);
      if (useBias) defaultInit(b.data, rng, inFeatures);
    }
    this.weight = new Parameter(w);
    this.bias = useBias ? new Parameter(b) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
