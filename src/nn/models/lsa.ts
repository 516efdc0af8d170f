// Linear self-attention (LSA) transformer for in-context regression (von Oswald et al. 2023): attention-only
// residual blocks of the core's LinearSelfAttention (one head, no softmax, no biases, mask "exclude-last" so
// keys and values are the N context tokens), and the prediction read from the query token's y-slot,
// ŷ = −e_q[d]. Each layer: e_j ← e_j + Σ_i (e_iᵀ W_K W_Qᵀ e_j) · W_Oᵀ W_Vᵀ e_i / N.
// Parameters `blocks.l.attn.W_Q|W_K|W_V` [1, D, k] and `W_O` [1, k, D] (TransformerLens layout).
// The float64 fused kernel in src/icl/lsa_kernel.ts computes the same function and is what training uses; the
// bridge functions at the bottom move weights (as products W_KQ = W_K W_Qᵀ, W_PV = W_Oᵀ W_Vᵀ) and gradients
// between the two.
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { type Tensor, zeros } from "../../core/tensor.js";
import type { LsaLayerGrads, LsaLayerProducts } from "../../icl/lsa_kernel.js";
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
function constraintMasks(model: LSA, block: LsaBlock): [Parameter, Float32Array][] {
  if (!model.constrained) return [];
  const dim = model.d + 1;
  const k = model.keySize;
  const qk = new Float32Array(dim * k).fill(1);
  for (let h = 0; h < k; h++) qk[model.d * k + h] = 0; // row d of [D, k]: queries and keys ignore y
  const o = new Float32Array(k * dim);
  for (let h = 0; h < k; h++) o[h * dim + model.d] = 1; // only column d of [k, D]: write only to y
  return [[block.attn.W_Q, qk], [block.attn.W_K, qk], [block.attn.W_O, o]];
}

/** Each layer's W_KQ = W_K W_Qᵀ and W_PV = W_Oᵀ W_Vᵀ in float64 (TransformerLens layout W_Q|W_K|W_V [D, k],
 * W_O [k, D]; score(i → j) = e_iᵀ W_KQ e_j, and a context token writes W_PV e_i). */
export function lsaProducts(model: LSA): LsaLayerProducts[] {
  const dim = model.d + 1;
  const k = model.keySize;
  return model.blocks.map(({ attn }) => {
    const wq = attn.W_Q.data;
    const wk = attn.W_K.data;
    const wv = attn.W_V.data;
    const wo = attn.W_O.data;
    const kq = new Float64Array(dim * dim);
    const pv = new Float64Array(dim * dim);
    for (let a = 0; a < dim; a++) {
      for (let c = 0; c < dim; c++) {
        let s1 = 0;
        let s2 = 0;
        for (let h = 0; h < k; h++) {
          s1 += wk[a * k + h]! * wq[c * k + h]!;
          s2 += wo[h * dim + a]! * wv[c * k + h]!;
        }
        kq[a * dim + c] = s1;
        pv[a * dim + c] = s2;
      }
    }
    return { kq, pv };
  });
}

/**
 * Sets every parameter's .grad from gradients with respect to the products (chain rule through
 * W_KQ = W_K W_Qᵀ and W_PV = W_Oᵀ W_Vᵀ): dW_K = dKQ W_Q, dW_Q = dKQᵀ W_K, dW_V = dPVᵀ W_Oᵀ, dW_O = W_Vᵀ dPVᵀ;
 * masked (constrained) entries get zero.
 */
export function setGradsFromProducts(model: LSA, grads: readonly LsaLayerGrads[]): void {
  const dim = model.d + 1;
  const k = model.keySize;
  model.blocks.forEach((block, l) => {
    const { attn } = block;
    const { kq: dA, pv: dB } = grads[l]!;
    const wq = attn.W_Q.data;
    const wk = attn.W_K.data;
    const wv = attn.W_V.data;
    const wo = attn.W_O.data;
    const gQ = zeros(attn.W_Q.shape);
    const gK = zeros(attn.W_K.shape);
    const gV = zeros(attn.W_V.shape);
    const gO = zeros(attn.W_O.shape);
    for (let a = 0; a < dim; a++) {
      for (let h = 0; h < k; h++) {
        let sk = 0;
        let sq = 0;
        let sv = 0;
        for (let c = 0; c < dim; c++) {
          sk += dA[a * dim + c]! * wq[c * k + h]!;
          sq += dA[c * dim + a]! * wk[c * k + h]!;
          sv += dB[c * dim + a]! * wo[h * dim + c]!;
        }
        gK.data[a * k + h] = sk;
        gQ.data[a * k + h] = sq;
        gV.data[a * k + h] = sv;
      }
    }
    for (let h = 0; h < k; h++) {
      for (let a = 0; a < dim; a++) {
        let so = 0;
        for (let c = 0; c < dim; c++) so += wv[c * k + h]! * dB[a * dim + c]!;
        gO.data[h * dim + a] = so;
      }
    }
    const byParam = new Map<Parameter, Tensor>([[attn.W_Q, gQ], [attn.W_K, gK], [attn.W_V, gV], [attn.W_O, gO]]);
    for (const [p, mask] of constraintMasks(model, block)) {
      const g = byParam.get(p)!;
      for (let i = 0; i < g.size; i++) g.data[i]! *= mask[i]!;
    }
    attn.W_Q.grad = gQ;
    attn.W_K.grad = gK;
    attn.W_V.grad = gV;
    attn.W_O.grad = gO;
  });
}
