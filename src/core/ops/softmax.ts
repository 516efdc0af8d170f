// Softmax, log-softmax, log-sum-exp and fused cross-entropy along one axis, max-shifted for stability. Backward rules use the saved
// output: softmax gx = y·(g − Σ g·y); log-softmax gx = g − softmax·Σ g.
import { ShapeError } from "../errors.js";
import { normAxis, shapeStr, splitAt } from "../shape.js";
import { IntTensor, type Tensor, acquireBuffer, defineTensorMethods, freshGradBuffer, gradBuffer, makeResult, needsGrad, releaseBuffer } from "../tensor.js";
import { fastExp } from "./unary.js";

/** Writes log-sum-exp of each [outer, inner] lane of X (length r, stride inner) into lse. */
function laneLse(X: Float32Array, outer: number, r: number, inner: number, lse: Float64Array): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * r * inner + j;
      let m = -Infinity;
      for (let p = 0, q = base; p < r; p++, q += inner) { const v = X[q]!; if (v > m || v !== v) m = v; }
      if (m === -Infinity || m !== m) { lse[o * inner + j] = m; continue; }
      let s = 0;
      for (let p = 0, q = base; p < r; p++, q += inner) s += fastExp(X[q]! - m);
      lse[o * inner + j] = m + Math.log(s);
    }
  }
}

/**
 * Softmax or log-softmax of rows of length r laid out contiguously (the last-axis case): one exp per element.
 * For log-softmax, `probs` (when given) receives the softmax too, which its backward needs, so that backward
 * does not take the exp of the output again.
 */
function rowsForward(X: Float32Array, out: Float32Array, rows: number, r: number, isLog: boolean, probs: Float32Array | null = null): void {
  for (let row = 0; row < rows; row++) {
    const o = row * r;
    const e = o + r;
    let m = -Infinity;
    for (let i = o; i < e; i++) { const v = X[i]!; if (v > m || v !== v) m = v; }
    if (m === -Infinity || m !== m) {
      // all −∞ (or a NaN): PyTorch gives NaN rows
      out.fill(Number.NaN, o, e);
      if (probs !== null) probs.fill(Number.NaN, o, e);
      continue;
    }
    let s = 0;
    if (isLog) {
      if (probs !== null) {
        for (let i = o; i < e; i++) { const v = fastExp(X[i]! - m); probs[i] = v; s += v; }
        const inv = 1 / s;
        for (let i = o; i < e; i++) probs[i]! *= inv;
      } else {
        for (let i = o; i < e; i++) s += fastExp(X[i]! - m);
      }
      const l = m + Math.log(s);
      for (let i = o; i < e; i++) out[i] = X[i]! - l;
    } else {
      for (let i = o; i < e; i++) { const v = fastExp(X[i]! - m); out[i] = v; s += v; }
      const inv = 1 / s;
      for (let i = o; i < e; i++) out[i]! *= inv;
    }
  }
}

/**
 * Adds the rows' input gradient into gx, or writes it when `fresh` (gx not yet initialised). `out` is the op's
 * output; for log-softmax, `probs` is the softmax saved by rowsForward.
 */
function rowsBackward(g: Float32Array, out: Float32Array, probs: Float32Array | null, gx: Float32Array, rows: number, r: number, isLog: boolean, fresh: boolean): void {
  for (let row = 0; row < rows; row++) {
    const o = row * r;
    const e = o + r;
    let s = 0;
    if (isLog) {
      const p = probs!;
      for (let i = o; i < e; i++) s += g[i]!;
      if (fresh) for (let i = o; i < e; i++) gx[i] = g[i]! - p[i]! * s;
      else for (let i = o; i < e; i++) gx[i]! += g[i]! - p[i]! * s;
    } else {
      for (let i = o; i < e; i++) s += g[i]! * out[i]!;
      if (fresh) for (let i = o; i < e; i++) gx[i] = out[i]! * (g[i]! - s);
      else for (let i = o; i < e; i++) gx[i]! += out[i]! * (g[i]! - s);
    }
  }
}

function softmaxLike(op: string, x: Tensor, axis: number, isLog: boolean): Tensor {
  const a = normAxis(op, axis, x.ndim, x.shape);
  const [outer, r, inner] = splitAt(x.shape, a);
  const X = x.data;
  const out = new Float32Array(X.length);
  if (inner === 1) {
    const probs = isLog && needsGrad(x) ? acquireBuffer(X.length, false) : null;
    rowsForward(X, out, outer, r, isLog, probs);
    return makeResult(op, out, x.shape, [x], !needsGrad(x) ? null : (g, final) => {
      const fresh = freshGradBuffer(x);
      rowsBackward(g, out, probs, fresh ?? x.grad!.data, outer, r, isLog, fresh !== null);
      if (final && probs !== null) releaseBuffer(probs);
    });
  }
  const lse = new Float64Array(outer * inner);
  laneLse(X, outer, r, inner, lse);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const l = lse[o * inner + j]!;
      const base = o * r * inner + j;
      if (isLog) for (let p = 0, q = base; p < r; p++, q += inner) out[q] = X[q]! - l;
      else for (let p = 0, q = base; p < r; p++, q += inner) out[q] = fastExp(X[q]! - l);
    }
  }
  return makeResult(op, out, x.shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * r * inner + j;
        let s = 0;
        if (isLog) {
          for (let p = 0, q = base; p < r; p++, q += inner) s += g[q]!;
          for (let p = 0, q = base; p < r; p++, q += inner) gx[q]! += g[q]! - fastExp(out[q]!) * s;
        } else {
          for (let p = 0, q = base; p < r; p++, q += inner) s += g[q]! * out[q]!;
          for (let p = 0, q = base; p < r; p++, q += inner) gx[q]! += out[q]! * (g[q]! - s);
        }
      }
    }
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxLike("softmax", x, axis, false);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxLike("logSoftmax", x, axis, true);
}

/** log Σ exp(x) along `axis`; the gradient is softmax(x). */
export function logSumExp(x: Tensor, axis = -1, keepDim = false): Tensor {
  const a = normAxis("logSumExp", axis, x.ndim, x.shape);
  const [outer, r, inner] = splitAt(x.shape, a);
  const X = x.data;
  const lse = new Float64Array(outer * inner);
  laneLse(X, outer, r, inner, lse);
  const out = Float32Array.from(lse);
  const shape = x.shape.slice();
  if (keepDim) shape[a] = 1;
  else shape.splice(a, 1);
  return makeResult("logSumExp", out, shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const l = lse[o * inner + j]!;
        const gv = g[o * inner + j]!;
        for (let p = 0, q = o * r * inner + j; p < r; p++, q += inner) gx[q]! += gv * fastExp(X[q]! - l);
      }
    }
  });
}

/**
 * Cross-entropy of logits [..., C] against class indices [...] (torch.nn.functional.cross_entropy), fused: one
 * log-sum-exp per row forward, softmax − one-hot backward, no [..., C] intermediate on the tape.
 */
export function crossEntropy(logits: Tensor, targetsIn: IntTensor | Int32Array, reduction: "mean" | "sum" | "none" = "mean"): Tensor {
  const targets = targetsIn instanceof IntTensor ? targetsIn : new IntTensor(targetsIn);
  if (logits.ndim < 1) throw new ShapeError("crossEntropy: logits must have a class dim");
  const C = logits.shape[logits.ndim - 1]!;
  const lead = logits.shape.slice(0, -1);
  const rows = C === 0 ? 0 : logits.size / C;
  if (targets.size !== rows || (targets.shape.length !== lead.length && targets.shape.length !== 1)) {
    throw new ShapeError(`crossEntropy: targets ${shapeStr(targets.shape)} do not match logits ${shapeStr(logits.shape)}`, `targets must be ${shapeStr(lead)} class indices`);
  }
  const X = logits.data;
  const T = targets.data;
  const lse = new Float64Array(rows);
  laneLse(X, rows, C, 1, lse);
  const losses = new Float32Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const t = T[r]!;
    if (t < 0 || t >= C) throw new ShapeError(`crossEntropy: target ${t} (row ${r}) is out of range for ${C} classes`);
    const l = lse[r]! - X[r * C + t]!;
    losses[r] = l;
    total += l;
  }
  const scale = reduction === "mean" ? 1 / Math.max(rows, 1) : 1;
  const out = reduction === "none" ? losses : new Float32Array([total * scale]);
  const shape = reduction === "none" ? lead : [];
  return makeResult("crossEntropy", out, shape, [logits], !needsGrad(logits) ? null : (g) => {
    const gx = gradBuffer(logits);
    for (let r = 0; r < rows; r++) {
      const gr = (reduction === "none" ? g[r]! : g[0]!) * scale;
      const l = lse[r]!;
      const o = r * C;
      for (let j = 0; j < C; j++) gx[o + j]! += gr * fastExp(X[o + j]! - l);
      gx[o + T[r]!]! -= gr;
    }
  });
}

// Tensor methods: x.op(…) is op(x, …)
declare module "../tensor.js" {
  interface Tensor {
    logSumExp(axis?: number, keepDim?: boolean): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
  }
}
defineTensorMethods({
  logSumExp(axis = -1, keepDim = false) { return logSumExp(this, axis, keepDim); },
  softmax(axis = -1) { return softmax(this, axis); },
  logSoftmax(axis = -1) { return logSoftmax(this, axis); },
});
