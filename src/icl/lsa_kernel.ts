// Fused forward and backward of a stack of linear self-attention (LSA) layers on in-context regression tokens,
// in float64 with no tape: the training loop of `mesa icl` and the exact reference that the LSA module
// (src/nn/models/lsa.ts) and every comparison are checked against.
//
// One layer, as in von Oswald et al. (2023) and their released code (transformers_learn_icl_by_gd):
//   e_j ← e_j + (1/N) · W_PV · Σ_{i<N} e_i (e_iᵀ W_KQ e_j)      for every token j, the query included,
// with W_KQ = W_Kᵀ W_Q and W_PV = W_O W_V. Keys and values come from the N context tokens only (their code's
// include_query = False): the query never attends to itself, and no token attends to the query. The 1/N sits
// here rather than in W_PV (their code folds it into the projection) so that weights do not depend on N.
// The prediction is read from the query's y-slot with a minus sign, ŷ = −e_q[d] after the last layer, which
// is what makes the construction's context y-slots hold residuals y_i − wᵀx_i (see construction.ts).

/** The two products that determine one LSA layer's function. Row-major [D, D], D = d + 1. */
export interface LsaLayerProducts {
  /** W_KQ = W_Kᵀ W_Q: score(i → j) = e_iᵀ W_KQ e_j */
  kq: Float64Array;
  /** W_PV = W_O W_V: what a context token writes into the residual stream */
  pv: Float64Array;
}

/** Per-layer gradients of a scalar with respect to the products, accumulated by `lossAndGrad`. */
export interface LsaLayerGrads {
  kq: Float64Array;
  pv: Float64Array;
}

export function zeroProducts(dim: number, layers: number): LsaLayerProducts[] {
  return Array.from({ length: layers }, () => ({ kq: new Float64Array(dim * dim), pv: new Float64Array(dim * dim) }));
}

export class LsaKernel {
  readonly layers: number;
  readonly n: number;
  readonly d: number;
  readonly dim: number;
  readonly tokensPerSeq: number;
  // scratch for one sequence: residual streams E^0..E^L, and per layer U = E W_KQᵀ, V = U S, S = E_ctxᵀ E_ctx
  private readonly e: Float64Array[];
  private readonly u: Float64Array[];
  private readonly v: Float64Array[];
  private readonly s: Float64Array[];
  private g: Float64Array;
  private gPrev: Float64Array;
  private readonly dv: Float64Array;
  private readonly du: Float64Array;
  private readonly dS: Float64Array;

  constructor(layers: number, n: number, d: number) {
    this.layers = layers;
    this.n = n;
    this.d = d;
    this.dim = d + 1;
    this.tokensPerSeq = n + 1;
    const td = this.tokensPerSeq * this.dim;
    const dd = this.dim * this.dim;
    this.e = Array.from({ length: layers + 1 }, () => new Float64Array(td));
    this.u = Array.from({ length: layers }, () => new Float64Array(td));
    this.v = Array.from({ length: layers }, () => new Float64Array(td));
    this.s = Array.from({ length: layers }, () => new Float64Array(dd));
    this.g = new Float64Array(td);
    this.gPrev = new Float64Array(td);
    this.dv = new Float64Array(this.dim);
    this.du = new Float64Array(this.dim);
    this.dS = new Float64Array(dd);
  }

  /** ŷ for every sequence of `tokens` ([batch, N+1, D]) into `out` ([batch]). */
  predict(products: readonly LsaLayerProducts[], tokens: Float64Array, batch: number, out = new Float64Array(batch)): Float64Array {
    for (let b = 0; b < batch; b++) out[b] = this.forward(products, tokens, b, false);
    return out;
  }

  /** Every token's residual stream after each layer: [layers + 1][batch, N+1, D] (layer 0 = the input). */
  residuals(products: readonly LsaLayerProducts[], tokens: Float64Array, batch: number): Float64Array[] {
    const td = this.tokensPerSeq * this.dim;
    const out = Array.from({ length: this.layers + 1 }, () => new Float64Array(batch * td));
    for (let b = 0; b < batch; b++) {
      this.forward(products, tokens, b, true);
      for (let l = 0; l <= this.layers; l++) out[l]!.set(this.e[l]!, b * td);
    }
    return out;
  }

  /**
   * Mean squared error (ŷ − y)² over the batch (no ½) and its gradient with respect to every layer's
   * products, added into `grads` (zero them first). Returns the loss.
   */
  lossAndGrad(products: readonly LsaLayerProducts[], tokens: Float64Array, targets: Float64Array, batch: number, grads: readonly LsaLayerGrads[]): number {
    if (this.layers === 1) return this.oneLayerLossAndGrad(products[0]!, tokens, targets, batch, grads[0]!);
    let loss = 0;
    for (let b = 0; b < batch; b++) {
      const yHat = this.forward(products, tokens, b, false);
      const err = yHat - targets[b]!;
      loss += err * err;
      this.backward(products, 2 * err / batch, grads, null);
    }
    return loss / batch;
  }

  /**
   * The one-layer case in one pass over each sequence, straight from `tokens` (no copies). With u = W_KQ e_q
   * and p = W_PV[d,:], one sweep over the context rows accumulates v = Σ_i e_i (e_iᵀu) and r = Σ_i e_i (e_iᵀp);
   * then ŷ = −(e_q[d] + p·v / N) and, with h = ∂L/∂e_q[d] = −∂L/∂ŷ, dW_PV[d,:] += h v / N and
   * dW_KQ += (h/N) r e_qᵀ (since S·dv = (h/N) S p = (h/N) r). Equal to the general path (checked by the
   * finite-difference tests, which run through here for one layer).
   */
  private oneLayerLossAndGrad(prod: LsaLayerProducts, tokens: Float64Array, targets: Float64Array, batch: number, g: LsaLayerGrads): number {
    const { dim, n, d } = this;
    const { kq, pv } = prod;
    const dkq = g.kq;
    const dpv = g.pv;
    const u = this.du;
    const v = this.dv;
    const r = new Float64Array(dim);
    const p = pv.subarray(d * dim, (d + 1) * dim);
    const dp = new Float64Array(dim); // accumulates dW_PV[d,:] over the batch
    const stride = (n + 1) * dim;
    let loss = 0;
    for (let b = 0; b < batch; b++) {
      const base = b * stride;
      const q = base + n * dim;
      for (let a = 0; a < dim; a++) {
        let acc = 0;
        const row = a * dim;
        for (let c = 0; c < dim; c++) acc += kq[row + c]! * tokens[q + c]!;
        u[a] = acc;
        v[a] = 0;
        r[a] = 0;
      }
      for (let i = 0; i < n; i++) {
        const ei = base + i * dim;
        let su = 0;
        let sp = 0;
        for (let c = 0; c < dim; c++) {
          const x = tokens[ei + c]!;
          su += x * u[c]!;
          sp += x * p[c]!;
        }
        for (let c = 0; c < dim; c++) {
          const x = tokens[ei + c]!;
          v[c] = v[c]! + x * su;
          r[c] = r[c]! + x * sp;
        }
      }
      let out = 0;
      for (let c = 0; c < dim; c++) out += p[c]! * v[c]!;
      const err = -(tokens[q + d]! + out / n) - targets[b]!;
      loss += err * err;
      const hn = (-2 * err) / batch / n;
      for (let c = 0; c < dim; c++) dp[c] = dp[c]! + hn * v[c]!;
      for (let a = 0; a < dim; a++) {
        const ra = hn * r[a]!;
        const row = a * dim;
        for (let c = 0; c < dim; c++) dkq[row + c] = dkq[row + c]! + ra * tokens[q + c]!;
      }
    }
    for (let c = 0; c < dim; c++) dpv[d * dim + c] = dpv[d * dim + c]! + dp[c]!;
    return loss / batch;
  }

  /**
   * Sensitivities ∂ŷ/∂e_q of each sequence's prediction to its query token ([batch, D]; the first d entries
   * are ∂ŷ/∂x_q). Exact (reverse mode through the same fused backward), and also returns the predictions.
   */
  querySensitivity(products: readonly LsaLayerProducts[], tokens: Float64Array, batch: number): { predictions: Float64Array; sensitivity: Float64Array } {
    const predictions = new Float64Array(batch);
    const sensitivity = new Float64Array(batch * this.dim);
    const row = new Float64Array(this.dim);
    for (let b = 0; b < batch; b++) {
      predictions[b] = this.forward(products, tokens, b, false);
      this.backward(products, 1, null, row);
      sensitivity.set(row, b * this.dim);
    }
    return { predictions, sensitivity };
  }

  /** Forward pass of sequence b; fills the scratch activations, returns ŷ. Without `allRows`, the last layer
   * updates only the query token (all a prediction needs). */
  private forward(products: readonly LsaLayerProducts[], tokens: Float64Array, b: number, allRows: boolean): number {
    const { dim, n, tokensPerSeq: t, layers } = this;
    const invN = 1 / n;
    const e0 = this.e[0]!;
    const off = b * t * dim;
    for (let i = 0; i < t * dim; i++) e0[i] = tokens[off + i]!;
    for (let l = 0; l < layers; l++) {
      const e = this.e[l]!;
      const next = this.e[l + 1]!;
      const u = this.u[l]!;
      const v = this.v[l]!;
      const s = this.s[l]!;
      const { kq, pv } = products[l]!;
      if (l === layers - 1 && !allRows) {
        // only the query row is needed: v_q = S u_q = Σ_i e_i (e_iᵀ u_q) costs 2·N·D instead of forming S
        this.queryRowForward(e, next, u, v, kq, pv);
        continue;
      }
      // S = Σ_{i<N} e_i e_iᵀ (symmetric: fill the upper triangle, mirror)
      for (let a = 0; a < dim; a++) {
        for (let c = a; c < dim; c++) {
          let acc = 0;
          for (let i = 0; i < n; i++) acc += e[i * dim + a]! * e[i * dim + c]!;
          s[a * dim + c] = acc;
          s[c * dim + a] = acc;
        }
      }
      next.set(e);
      for (let j = 0; j < t; j++) {
        const ej = j * dim;
        // u_j = W_KQ e_j
        for (let a = 0; a < dim; a++) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += kq[a * dim + c]! * e[ej + c]!;
          u[ej + a] = acc;
        }
        // v_j = S u_j
        for (let a = 0; a < dim; a++) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += s[a * dim + c]! * u[ej + c]!;
          v[ej + a] = acc;
        }
        // e_j += W_PV v_j / N
        for (let a = 0; a < dim; a++) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += pv[a * dim + c]! * v[ej + c]!;
          next[ej + a] = e[ej + a]! + acc * invN;
        }
      }
    }
    return -this.e[layers]![n * dim + this.d]!;
  }

  /** The last layer's forward for what the prediction reads: u_q, v_q (stored in row N of u, v) and the
   * query's y-slot of `next` (the other entries of `next` are not computed). */
  private queryRowForward(e: Float64Array, next: Float64Array, u: Float64Array, v: Float64Array, kq: Float64Array, pv: Float64Array): void {
    const { dim, n, d } = this;
    const q = n * dim;
    for (let a = 0; a < dim; a++) {
      let acc = 0;
      for (let c = 0; c < dim; c++) acc += kq[a * dim + c]! * e[q + c]!;
      u[q + a] = acc;
      v[q + a] = 0;
    }
    for (let i = 0; i < n; i++) {
      const ei = i * dim;
      let dotp = 0;
      for (let c = 0; c < dim; c++) dotp += e[ei + c]! * u[q + c]!;
      for (let a = 0; a < dim; a++) v[q + a] = v[q + a]! + e[ei + a]! * dotp;
    }
    let acc = 0;
    for (let c = 0; c < dim; c++) acc += pv[d * dim + c]! * v[q + c]!;
    next[q + d] = e[q + d]! + acc / n;
  }

  /**
   * Backward through the last layer, whose output gradient is nonzero only at the query's y-slot (value h):
   * rank-one forms instead of S. Writes the input gradient of the layer into `gPrev` when `needInput`.
   */
  private queryRowBackward(l: number, h: number, products: readonly LsaLayerProducts[], grads: readonly LsaLayerGrads[] | null, gPrev: Float64Array, needInput: boolean): void {
    const { dim, n, d } = this;
    const q = n * dim;
    const e = this.e[l]!;
    const u = this.u[l]!;
    const v = this.v[l]!;
    const { kq, pv } = products[l]!;
    const dv = this.dv;
    const du = this.du;
    const hn = h / n;
    // dW_PV[d, :] += h v_q / N ; dv = W_PV[d, :]ᵀ h / N
    if (grads) {
      const dpv = grads[l]!.pv;
      for (let c = 0; c < dim; c++) dpv[d * dim + c] = dpv[d * dim + c]! + hn * v[q + c]!;
    }
    for (let c = 0; c < dim; c++) dv[c] = pv[d * dim + c]! * hn;
    // du = S dv = Σ_i e_i (e_iᵀ dv); with S = Σ e_i e_iᵀ, dE_i = u_q (e_iᵀ dv) + dv (e_iᵀ u_q)
    du.fill(0);
    for (let i = 0; i < n; i++) {
      const ei = i * dim;
      let a1 = 0;
      for (let c = 0; c < dim; c++) a1 += e[ei + c]! * dv[c]!;
      for (let c = 0; c < dim; c++) du[c] = du[c]! + e[ei + c]! * a1;
      if (needInput) {
        let a2 = 0;
        for (let c = 0; c < dim; c++) a2 += e[ei + c]! * u[q + c]!;
        for (let c = 0; c < dim; c++) gPrev[ei + c] = u[q + c]! * a1 + dv[c]! * a2;
      }
    }
    if (grads) {
      const dkq = grads[l]!.kq;
      for (let a = 0; a < dim; a++) {
        const dua = du[a]!;
        for (let c = 0; c < dim; c++) dkq[a * dim + c] = dkq[a * dim + c]! + dua * e[q + c]!;
      }
    }
    if (needInput) {
      // the residual path plus W_KQᵀ du for the query row
      for (let c = 0; c < dim; c++) {
        let acc = 0;
        for (let a = 0; a < dim; a++) acc += kq[a * dim + c]! * du[a]!;
        gPrev[q + c] = acc;
      }
      gPrev[q + d] = gPrev[q + d]! + h;
    }
  }

  /** Backward of the last forward with dL/dŷ = `seed`; adds product gradients into `grads` (if given) and
   * writes ∂L/∂e_q (the input query token) into `queryGrad` (if given). */
  private backward(products: readonly LsaLayerProducts[], seed: number, grads: readonly LsaLayerGrads[] | null, queryGrad: Float64Array | null): void {
    const { dim, n, tokensPerSeq: t, layers } = this;
    const invN = 1 / n;
    let g = this.g;
    let gPrev = this.gPrev;
    const dv = this.dv;
    const du = this.du;
    const dS = this.dS;
    this.queryRowBackward(layers - 1, -seed, products, grads, gPrev, layers > 1 || queryGrad !== null);
    {
      const tmp = g;
      g = gPrev;
      gPrev = tmp;
    }
    for (let l = layers - 2; l >= 0; l--) {
      const e = this.e[l]!;
      const u = this.u[l]!;
      const v = this.v[l]!;
      const s = this.s[l]!;
      const { kq, pv } = products[l]!;
      const dkq = grads ? grads[l]!.kq : null;
      const dpv = grads ? grads[l]!.pv : null;
      // below layer 0 only the query row's gradient is wanted (for sensitivities); skip the rest otherwise
      const needInput = l > 0 || queryGrad !== null;
      gPrev.set(g);
      dS.fill(0);
      for (let j = 0; j < t; j++) {
        const ej = j * dim;
        // dW_PV += g_j v_jᵀ / N ; dv = W_PVᵀ g_j / N
        dv.fill(0);
        for (let a = 0; a < dim; a++) {
          const ga = g[ej + a]! * invN;
          if (ga === 0) continue;
          if (dpv) for (let c = 0; c < dim; c++) dpv[a * dim + c] = dpv[a * dim + c]! + ga * v[ej + c]!;
          for (let c = 0; c < dim; c++) dv[c] = dv[c]! + pv[a * dim + c]! * ga;
        }
        // du = S dv ; dS += u_j dvᵀ
        for (let a = 0; a < dim; a++) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += s[a * dim + c]! * dv[c]!;
          du[a] = acc;
          const ua = u[ej + a]!;
          for (let c = 0; c < dim; c++) dS[a * dim + c] = dS[a * dim + c]! + ua * dv[c]!;
        }
        // dW_KQ += du e_jᵀ ; dE_j += W_KQᵀ du
        for (let a = 0; a < dim; a++) {
          const dua = du[a]!;
          if (dkq) for (let c = 0; c < dim; c++) dkq[a * dim + c] = dkq[a * dim + c]! + dua * e[ej + c]!;
          if (needInput) for (let c = 0; c < dim; c++) gPrev[ej + c] = gPrev[ej + c]! + kq[a * dim + c]! * dua;
        }
      }
      if (needInput) {
        // S = Σ_i e_i e_iᵀ  ⇒  dE_i += (dS + dSᵀ) e_i for context rows
        for (let i = 0; i < n; i++) {
          const ei = i * dim;
          for (let a = 0; a < dim; a++) {
            let acc = 0;
            for (let c = 0; c < dim; c++) acc += (dS[a * dim + c]! + dS[c * dim + a]!) * e[ei + c]!;
            gPrev[ei + a] = gPrev[ei + a]! + acc;
          }
        }
      }
      const tmp = g;
      g = gPrev;
      gPrev = tmp;
    }
    if (queryGrad) queryGrad.set(g.subarray(n * dim, t * dim));
  }
}
