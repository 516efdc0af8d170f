// Linear self-attention (LSA) transformer for in-context regression (von Oswald et al. 2023): attention-only
// residual blocks with no softmax, keys and values from the N context tokens only, and the prediction read from
// the query token's y-slot, ŷ = −e_q[d]. Each layer: e_j ← e_j + W_O Σ_i (W_V e_i)(W_K e_i)ᵀ(W_Q e_j) / N.
// Parameters `blocks.l.attn.W_Q|W_K|W_V|W_O` (PyTorch layout [out, in]); hook points per TransformerLens.
// The float64 fused kernel in src/icl/lsa_kernel.ts computes the same function and is what training uses; the
// bridge functions at the bottom move weights and gradients between the two.
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { matmul } from "../../core/ops/matmul.js";
import { Tensor, zeros } from "../../core/tensor.js";
import type { LsaLayerGrads, LsaLayerProducts } from "../../icl/lsa_kernel.js";
import { HookPoint, Module, Parameter } from "../module.js";

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
   * the papers' parameter constraint: queries and keys read only x (W_Q, W_K have a zero y-column) and every
   * layer writes only the y-slot (W_O has zero x-rows) — the GD form. GD++ needs unconstrained weights.
   */
  constrained?: boolean;
}

export class LsaAttention extends Module {
  readonly W_Q: Parameter; // [k, D]
  readonly W_K: Parameter; // [k, D]
  readonly W_V: Parameter; // [k, D]
  readonly W_O: Parameter; // [D, k]
  readonly hookQ = new HookPoint();
  readonly hookK = new HookPoint();
  readonly hookV = new HookPoint();
  readonly hookPattern = new HookPoint();
  readonly hookZ = new HookPoint();
  /** masks applied in forward when constrained (so the masked entries get zero gradient too) */
  readonly _masks: { qk: Tensor; o: Tensor } | null;

  constructor(dim: number, keySize: number, rng: Rng, initScale: number, constrained: boolean) {
    super();
    const make = (rows: number, cols: number, fanIn: number): Parameter => {
      const t = zeros([rows, cols]);
      rng.fillNormal(t.data, 0, Math.sqrt(initScale / fanIn));
      return new Parameter(t);
    };
    this.W_Q = make(keySize, dim, dim);
    this.W_K = make(keySize, dim, dim);
    this.W_V = make(keySize, dim, dim);
    this.W_O = make(dim, keySize, keySize);
    if (constrained) {
      const qk = zeros([keySize, dim]);
      for (let h = 0; h < keySize; h++) for (let c = 0; c < dim - 1; c++) qk.data[h * dim + c] = 1;
      const o = zeros([dim, keySize]);
      for (let h = 0; h < keySize; h++) o.data[(dim - 1) * keySize + h] = 1;
      this._masks = { qk, o };
      for (const [p, m] of [[this.W_Q, qk], [this.W_K, qk], [this.W_O, o]] as const) for (let i = 0; i < p.size; i++) p.data[i]! *= m.data[i]!;
    } else this._masks = null;
  }

  /** resid [batch, N+1, D] → the attention output added to every token [batch, N+1, D]. */
  forward(resid: Tensor): Tensor {
    const n = resid.shape[1]! - 1;
    const ctx = resid.slice(1, 0, n); // [batch, N, D]: keys and values never include the query
    const wq = this._masks ? this.W_Q.mul(this._masks.qk) : this.W_Q;
    const wk = this._masks ? this.W_K.mul(this._masks.qk) : this.W_K;
    const wo = this._masks ? this.W_O.mul(this._masks.o) : this.W_O;
    const q = this.hookQ.forward(matmul(resid, wq, { transB: true })); // [batch, N+1, k]
    const k = this.hookK.forward(matmul(ctx, wk, { transB: true })); // [batch, N, k]
    const v = this.hookV.forward(matmul(ctx, this.W_V, { transB: true })); // [batch, N, k]
    const pattern = this.hookPattern.forward(matmul(q, k, { transB: true }).mul(1 / n)); // [batch, N+1, N], no softmax
    const z = this.hookZ.forward(matmul(pattern, v)); // [batch, N+1, k]
    return matmul(z, wo, { transB: true }); // [batch, N+1, D]
  }
}

export class LsaBlock extends Module {
  readonly attn: LsaAttention;
  readonly hookResidPre = new HookPoint();
  readonly hookAttnOut = new HookPoint();
  readonly hookResidPost = new HookPoint();

  constructor(dim: number, keySize: number, rng: Rng, initScale: number, constrained: boolean) {
    super();
    this.attn = new LsaAttention(dim, keySize, rng, initScale, constrained);
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
    this.blocks = Array.from({ length: layers }, () => new LsaBlock(d + 1, this.keySize, rng, scale, this.constrained));
  }

  forward(tokens: Tensor): Tensor {
    let resid = tokens;
    for (const block of this.blocks) resid = block.forward(resid);
    const n = tokens.shape[1]! - 1;
    return resid.slice(1, n, n + 1).slice(2, this.d, this.d + 1).reshape([tokens.shape[0]!]).neg(); // [batch]
  }
}

/** Each layer's W_KQ = W_Kᵀ W_Q and W_PV = W_O W_V in float64 (the constrained masks applied). */
export function lsaProducts(model: LSA): LsaLayerProducts[] {
  const dim = model.d + 1;
  const k = model.keySize;
  return model.blocks.map(({ attn }) => {
    const { wq, wk, wv, wo } = maskedFactors(attn);
    const kq = new Float64Array(dim * dim);
    const pv = new Float64Array(dim * dim);
    for (let a = 0; a < dim; a++) {
      for (let c = 0; c < dim; c++) {
        let s1 = 0;
        let s2 = 0;
        for (let h = 0; h < k; h++) {
          s1 += wk[h * dim + a]! * wq[h * dim + c]!;
          s2 += wo[a * k + h]! * wv[h * dim + c]!;
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
 * W_KQ = W_Kᵀ W_Q and W_PV = W_O W_V): dW_Q = W_K dKQ, dW_K = W_Q dKQᵀ, dW_V = W_Oᵀ dPV, dW_O = dPV W_Vᵀ.
 */
export function setGradsFromProducts(model: LSA, grads: readonly LsaLayerGrads[]): void {
  const dim = model.d + 1;
  const k = model.keySize;
  model.blocks.forEach(({ attn }, l) => {
    const { kq: dA, pv: dB } = grads[l]!;
    const { wq, wk, wv, wo } = maskedFactors(attn);
    const gQ = zeros([k, dim]);
    const gK = zeros([k, dim]);
    const gV = zeros([k, dim]);
    const gO = zeros([dim, k]);
    for (let h = 0; h < k; h++) {
      for (let c = 0; c < dim; c++) {
        let sq = 0;
        let sk = 0;
        let sv = 0;
        for (let a = 0; a < dim; a++) {
          sq += wk[h * dim + a]! * dA[a * dim + c]!;
          sk += wq[h * dim + a]! * dA[c * dim + a]!;
          sv += wo[a * k + h]! * dB[a * dim + c]!;
        }
        gQ.data[h * dim + c] = sq;
        gK.data[h * dim + c] = sk;
        gV.data[h * dim + c] = sv;
      }
    }
    for (let a = 0; a < dim; a++) {
      for (let h = 0; h < k; h++) {
        let so = 0;
        for (let c = 0; c < dim; c++) so += dB[a * dim + c]! * wv[h * dim + c]!;
        gO.data[a * k + h] = so;
      }
    }
    if (attn._masks) {
      for (let i = 0; i < gQ.size; i++) {
        gQ.data[i]! *= attn._masks.qk.data[i]!;
        gK.data[i]! *= attn._masks.qk.data[i]!;
      }
      for (let i = 0; i < gO.size; i++) gO.data[i]! *= attn._masks.o.data[i]!;
    }
    attn.W_Q.grad = gQ;
    attn.W_K.grad = gK;
    attn.W_V.grad = gV;
    attn.W_O.grad = gO;
  });
}

function maskedFactors(attn: LsaAttention): { wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array } {
  const m = attn._masks;
  const apply = (p: Parameter, mask: Tensor | undefined): Float32Array => (mask ? p.data.map((v, i) => v * mask.data[i]!) : p.data);
  return { wq: apply(attn.W_Q, m?.qk), wk: apply(attn.W_K, m?.qk), wv: attn.W_V.data, wo: apply(attn.W_O, m?.o) };
}
