// The bridge between the LSA module (src/nn/models/lsa.ts, TransformerLens layouts) and the fused float64 kernel
// (lsa_kernel.ts), which works on each layer's products: weights out as products, product gradients back in as
// parameter gradients. It lives in icl/ so that nn never imports icl.
import { type Parameter } from "../nn/module.js";
import { type LSA, constraintMasks } from "../nn/models/lsa.js";
import { type Tensor, zeros } from "../core/tensor.js";
import { productsFromFactors } from "./construction.js";
import type { LsaLayerGrads, LsaLayerProducts } from "./lsa_kernel.js";

/** Each layer's W_KQ = W_K W_Qᵀ and W_PV = W_Oᵀ W_Vᵀ in float64 (TransformerLens layout W_Q|W_K|W_V [D, k],
 * W_O [k, D]; score(i → j) = e_iᵀ W_KQ e_j, and a context token writes W_PV e_i). */
export function lsaProducts(model: LSA): LsaLayerProducts[] {
  const dim = model.d + 1;
  const k = model.keySize;
  // TransformerLens stores W_Q, W_K, W_V as [D, k] and W_O as [k, D]: the factors of construction.ts transposed
  return model.blocks.map(({ attn }) =>
    productsFromFactors({ wQ: transpose(attn.W_Q.data, dim, k), wK: transpose(attn.W_K.data, dim, k), wV: transpose(attn.W_V.data, dim, k), wO: transpose(attn.W_O.data, k, dim) }, dim));
}

/** A [rows, cols] row-major matrix transposed to [cols, rows], in float64. */
function transpose(m: Float32Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
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
