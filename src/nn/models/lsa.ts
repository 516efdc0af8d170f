// Linear self-attention (LSA) transformer for in-context regression (von Oswald et al. 2023): attention-only
// residual blocks of the core's LinearSelfAttention (one head, no softmax, no biases, mask "exclude-last" so
// keys and values are the N context tokens), and the prediction read from the query token's y-slot,
// ŷ = −e_q[d]. Each layer: e_j ← e_j + Σ_i (e_iᵀ W_K W_Qᵀ e_j) · W_Oᵀ W_Vᵀ e_i / N.
// Parameters `blocks.l.attn.W_Q|W_K|W_V` [1, D, k] and `W_O` [1, k, D] (TransformerLens layout).
// The float64 fused kernel in src/icl/lsa_kernel.ts computes the same function and is what training uses;
// src/icl/lsa_weights.ts moves weights (as products W_KQ = W_K W_Qᵀ, W_PV = W_Oᵀ W_Vᵀ) and gradients between
// the two (there, so that nn never imports icl).
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { type Tensor, zeros } from "../../core/tensor.js";
import { LinearSelfAttention } from "../attention.js";
import { HookPoint, Module, type Parameter } from "../module.js";

export interface LsaOptions {
  /** input dimension d (tokens have d + 1 entries) */
  d: number;
  /** number of LSA layers (1..16) */
  layers: number;
  /** key/query/value size (default d + 1, the paper's) */
  keySize?: number;
  /** weights ~ N(0, initScale / fan_in), the paper's VarianceScaling(0.002) by default */
  initScale?: number;
  /**
   * the papers' parameter constraint: queries and keys read only x (zero y-row of W_Q, W_K) and every layer
   * writes only the y-slot (zero x-columns of W_O) — the GD form. GD++ needs unconstrained weights. The
   * masked entries start at zero and training (setGradsFromProducts) never gives them a gradient.
   */
  constrained?: boolean;
}

export class LsaBlock extends Module {
  readonly attn: LinearSelfAttention;
  readonly hookResidPre = new HookPoint();
  readonly hookAttnOut = new HookPoint();
  readonly hookResidPost = new HookPoint();

  constructor(dim: number, keySize: number, rng: Rng, initScale: number) {
    super();
    this.attn = new LinearSelfAttention({ dModel: dim, nHeads: 1, dHead: keySize, mask: "exclude-last", bias: false }, rng);
    for (const [p, fanIn] of [[this.attn.W_Q, dim], [this.attn.W_K, dim], [this.attn.W_V, dim], [this.attn.W_O, keySize]] as const) {
      rng.fillNormal(p.data, 0, Math.sqrt(initScale / fanIn));
    }
  }

  forward(resid: Tensor): Tensor {
    resid = this.hookResidPre.forward(resid); // [batch, N+1, D]
    const out = this.hookAttnOut.forward(this.attn.forward(resid)); // [batch, N+1, D]
    return this.hookResidPost.forward(resid.add(out)); // [batch, N+1, D]
  }
}

/** tokens [batch, N+1, d+1] → ŷ [batch] = −(query's y-slot after the last block). */
export class LSA extends Module {
  readonly blocks: LsaBlock[];
  readonly d: number;
  readonly keySize: number;
  readonly constrained: boolean;

  constructor(options: LsaOptions, rng: Rng) {
    super();
    const { d, layers } = options;
    if (!Number.isInteger(d) || d < 1) throw new ConfigError(`LSA needs an integer d ≥ 1, got ${d}`);
    if (!Number.isInteger(layers) || layers < 1 || layers > 16) throw new ConfigError(`LSA needs 1..16 layers, got ${layers}`, "use --layers between 1 and 16");
    this.d = d;
    this.keySize = options.keySize ?? d + 1;
    this.constrained = options.constrained ?? false;
    const scale = options.initScale ?? 0.002;
    this.blocks = Array.from({ length: layers }, () => new LsaBlock(d + 1, this.keySize, rng, scale));
    if (this.constrained) for (const b of this.blocks) for (const [p, mask] of constraintMasks(this, b)) for (let i = 0; i < p.size; i++) p.data[i]! *= mask[i]!;
  }

  forward(tokens: Tensor): Tensor {
    let resid = tokens;
    for (const block of this.blocks) resid = block.forward(resid);
    const n = tokens.shape[1]! - 1;
    return resid.slice(1, n, n + 1).slice(2, this.d, this.d + 1).reshape([tokens.shape[0]!]).neg(); // [batch]
  }
}

/** [parameter, 0/1 mask] pairs of the GD-form constraint (empty when unconstrained). */
export function constraintMasks(model: LSA, block: LsaBlock): [Parameter, Float32Array][] {
  if (!model.constrained) return [];
  const dim = model.d + 1;
  const k = model.keySize;
  const qk = new Float32Array(dim * k).fill(1);
  for (let h = 0; h < k; h++) qk[model.d * k + h] = 0; // row d of [D, k]: queries and keys ignore y
  const o = new Float32Array(k * dim);
  for (let h = 0; h < k; h++) o[h * dim + model.d] = 1; // only column d of [k, D]: write only to y
  return [[block.attn.W_Q, qk], [block.attn.W_K, qk], [block.attn.W_O, o]];
}
