// The analytic LSA weights of von Oswald et al. (2023) that make a linear self-attention layer perform one step
// of gradient descent (and GD++) on the in-context least-squares loss L(w) = 1/(2N) Σ_i (wᵀx_i − y_i)².
//
// With W_KQ = [[I_d, 0], [0, 0]] and W_PV = [[−γ I_d, 0], [0, −η]], one layer (lsa_kernel.ts) maps every token
//   y_j ← y_j − Δwᵀx_j,  Δw = (η/N) Σ_i y_i x_i = −η ∇L(0) on the current context   (GD on the targets)
//   x_j ← x_j − γ C x_j, C = (1/N) Σ_i x_i x_iᵀ                                       (GD++ preconditioning)
// so after one layer the query holds −ŷ of one GD step from w₀ = 0 and the context y-slots hold the residuals
// y_i − Δwᵀx_i; stacking K such layers (γ = 0) is exactly K steps of GD. γ = 0 gives plain GD.
import type { LsaLayerProducts } from "./lsa_kernel.js";

/** Separate key/query/value/output matrices of one layer (PyTorch layout [out, in]; key size = D). */
export interface LsaLayerFactors {
  wQ: Float64Array;
  wK: Float64Array;
  wV: Float64Array;
  wO: Float64Array;
}

/** Products of one GD++ layer with step η and preconditioning γ (γ = 0: one plain GD step). */
export function gdLayerProducts(d: number, eta: number, gamma = 0): LsaLayerProducts {
  const dim = d + 1;
  const kq = new Float64Array(dim * dim);
  const pv = new Float64Array(dim * dim);
  for (let a = 0; a < d; a++) {
    kq[a * dim + a] = 1;
    pv[a * dim + a] = -gamma;
  }
  pv[d * dim + d] = -eta;
  return { kq, pv };
}

/** K layers implementing K steps of GD with learning rate η, or GD++ with per-layer (η_l, γ_l). */
export function gdStackProducts(d: number, etas: readonly number[], gammas: readonly number[] = []): LsaLayerProducts[] {
  return etas.map((eta, l) => gdLayerProducts(d, eta, gammas[l] ?? 0));
}

/** Factors W_Q, W_K, W_V, W_O whose products are the GD++ layer: W_Q = W_K = diag(1..1, 0),
 * W_V = diag(0..0, −1) − γ-part, W_O = diag(1..1, η) so that W_O W_V = diag(−γ..−γ, −η). */
export function gdLayerFactors(d: number, eta: number, gamma = 0): LsaLayerFactors {
  const dim = d + 1;
  const wQ = new Float64Array(dim * dim);
  const wK = new Float64Array(dim * dim);
  const wV = new Float64Array(dim * dim);
  const wO = new Float64Array(dim * dim);
  for (let a = 0; a < d; a++) {
    wQ[a * dim + a] = 1;
    wK[a * dim + a] = 1;
    wV[a * dim + a] = -gamma;
    wO[a * dim + a] = 1;
  }
  wV[d * dim + d] = -1;
  wO[d * dim + d] = eta;
  return { wQ, wK, wV, wO };
}

/** W_KQ = W_Kᵀ W_Q and W_PV = W_O W_V from factors of shapes W_Q, W_K, W_V: [k, D], W_O: [D, k]. */
export function productsFromFactors(f: LsaLayerFactors, dim: number): LsaLayerProducts {
  const k = f.wQ.length / dim;
  const kq = new Float64Array(dim * dim);
  const pv = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++) {
    for (let c = 0; c < dim; c++) {
      let s1 = 0;
      let s2 = 0;
      for (let h = 0; h < k; h++) {
        s1 += f.wK[h * dim + a]! * f.wQ[h * dim + c]!;
        s2 += f.wO[a * k + h]! * f.wV[h * dim + c]!;
      }
      kq[a * dim + c] = s1;
      pv[a * dim + c] = s2;
    }
  }
  return { kq, pv };
}
