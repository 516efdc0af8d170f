// Layer normalisation over the last dim with an optional affine (weight, bias), as torch.nn.functional.layer_norm:
// biased variance, eps inside the square root. Forward saves per-row mean and 1/std; backward is one fused pass.
import { ShapeError } from "../errors.js";
import { shapeStr } from "../shape.js";
import { type Tensor, gradBuffer, makeResult, needsGrad } from "../tensor.js";

export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  if (x.ndim < 1) throw new ShapeError("layerNorm: input must have at least one dim");
  const D = x.shape[x.ndim - 1]!;
  for (const [name, p] of [["weight", weight], ["bias", bias]] as const) {
    if (p && (p.ndim !== 1 || p.shape[0] !== D)) {
      throw new ShapeError(`layerNorm: ${name} ${shapeStr(p.shape)} does not match the normalised dim ${D} of input ${shapeStr(x.shape)}`);
    }
  }
  const rows = D === 0 ? 0 : x.size / D;
  const X = x.data;
  const Wd = weight?.data;
  const Bd = bias?.data;
  const out = new Float32Array(X.length);
  const meanArr = new Float32Array(rows);
  const rstdArr = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += X[o + j]!;
    const mu = s / D;
    let v = 0;
    for (let j = 0; j < D; j++) { const d = X[o + j]! - mu; v += d * d; }
    const rstd = 1 / Math.sqrt(v / D + eps);
    meanArr[r] = mu;
    rstdArr[r] = rstd;
    for (let j = 0; j < D; j++) {
      let y = (X[o + j]! - mu) * rstd;
      if (Wd) y *= Wd[j]!;
      if (Bd) y += Bd[j]!;
      out[o + j] = y;
    }
  }
  const parents = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return makeResult("layerNorm", out, x.shape, parents, !needsGrad(x, weight ?? undefined, bias ?? undefined) ? null : (g) => {
    const gx = x.requiresGrad ? gradBuffer(x) : null;
    const gw = weight?.requiresGrad ? gradBuffer(weight) : null;
    const gb = bias?.requiresGrad ? gradBuffer(bias) : null;
    for (let r = 0; r < rows; r++) {
      const o = r * D;
      const mu = meanArr[r]!;
      const rstd = rstdArr[r]!;
      let sumG = 0;
      let sumGX = 0;
      for (let j = 0; j < D; j++) {
        const xhat = (X[o + j]! - mu) * rstd;
        const gj = g[o + j]!;
        const gh = Wd ? gj * Wd[j]! : gj;
        sumG += gh;
        sumGX += gh * xhat;
        if (gw) gw[j]! += gj * xhat;
        if (gb) gb[j]! += gj;
      }
      if (gx) {
        const mG = sumG / D;
        const mGX = sumGX / D;
        for (let j = 0; j < D; j++) {
          const xhat = (X[o + j]! - mu) * rstd;
          const gh = Wd ? g[o + j]! * Wd[j]! : g[o + j]!;
          gx[o + j]! += rstd * (gh - mG - xhat * mGX);
        }
      }
    }
  });
}
