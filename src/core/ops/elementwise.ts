// Broadcasting binary ops (add, sub, mul, div, minimum, maximum), comparisons (masks without gradient), where
// and clamp. Each runs as `rows × inner` loops from a BroadcastPlan; gradients of broadcast inputs are summed
// over the broadcast dims by the same loops (a stride-0 input accumulates into one element).
import { type BroadcastPlan, broadcastPlan, sameShape, shapeStr } from "../shape.js";
import { type Tensor, type TensorLike, asTensor, defineTensorMethods, freshGradBuffer, gradBuffer, makeResult, needsGrad } from "../tensor.js";
import { ShapeError } from "../errors.js";

const ADD = 0, SUB = 1, MUL = 2, DIV = 3, MIN = 4, MAX = 5, GT = 6, GE = 7, LT = 8, LE = 9, EQ = 10;
const NAMES = ["add", "sub", "mul", "div", "minimum", "maximum", "gt", "ge", "lt", "le", "eq"];

function planFor(op: string, a: Tensor, b: Tensor): BroadcastPlan {
  if (sameShape(a.shape, b.shape)) {
    const n = a.size;
    const z = new Int32Array(1);
    return { shape: a.shape.slice(), size: n, rows: 1, inner: n, offsets: [z, z], innerStrides: [1, 1] };
  }
  return broadcastPlan(op, [a.shape, b.shape]);
}

function forward(code: number, A: Float32Array, B: Float32Array, out: Float32Array, p: BroadcastPlan): void {
  const { rows, inner } = p;
  const oa = p.offsets[0]!;
  const ob = p.offsets[1]!;
  const sa = p.innerStrides[0]!;
  const sb = p.innerStrides[1]!;
  for (let r = 0; r < rows; r++) {
    let ai = oa[r]!;
    let bi = ob[r]!;
    const o = r * inner;
    const e = o + inner;
    switch (code) {
      case ADD: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! + B[bi]!; break;
      case SUB: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! - B[bi]!; break;
      case MUL: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! * B[bi]!; break;
      case DIV: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! / B[bi]!; break;
      case MIN: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; out[i] = x < y || x !== x ? x : y; } break;
      case MAX: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; out[i] = x > y || x !== x ? x : y; } break;
      case GT: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! > B[bi]! ? 1 : 0; break;
      case GE: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! >= B[bi]! ? 1 : 0; break;
      case LT: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! < B[bi]! ? 1 : 0; break;
      case LE: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! <= B[bi]! ? 1 : 0; break;
      case EQ: for (let i = o; i < e; i++, ai += sa, bi += sb) out[i] = A[ai]! === B[bi]! ? 1 : 0; break;
    }
  }
}

/** Accumulates d(out)/d(a) (which = 0) or d(out)/d(b) (which = 1) times g into ga. */
function backward(code: number, which: number, A: Float32Array, B: Float32Array, g: Float32Array, gx: Float32Array, p: BroadcastPlan): void {
  const { rows, inner } = p;
  const oa = p.offsets[0]!;
  const ob = p.offsets[1]!;
  const sa = p.innerStrides[0]!;
  const sb = p.innerStrides[1]!;
  for (let r = 0; r < rows; r++) {
    let ai = oa[r]!;
    let bi = ob[r]!;
    const o = r * inner;
    const e = o + inner;
    if (which === 0) {
      switch (code) {
        case ADD: case SUB: for (let i = o; i < e; i++, ai += sa) gx[ai]! += g[i]!; break;
        case MUL: for (let i = o; i < e; i++, ai += sa, bi += sb) gx[ai]! += g[i]! * B[bi]!; break;
        case DIV: for (let i = o; i < e; i++, ai += sa, bi += sb) gx[ai]! += g[i]! / B[bi]!; break;
        // ties split the gradient evenly, as PyTorch does
        case MIN: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; gx[ai]! += x < y ? g[i]! : x === y ? 0.5 * g[i]! : 0; } break;
        case MAX: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; gx[ai]! += x > y ? g[i]! : x === y ? 0.5 * g[i]! : 0; } break;
      }
    } else {
      switch (code) {
        case ADD: for (let i = o; i < e; i++, bi += sb) gx[bi]! += g[i]!; break;
        case SUB: for (let i = o; i < e; i++, bi += sb) gx[bi]! -= g[i]!; break;
        case MUL: for (let i = o; i < e; i++, ai += sa, bi += sb) gx[bi]! += g[i]! * A[ai]!; break;
        case DIV: for (let i = o; i < e; i++, ai += sa, bi += sb) { const y = B[bi]!; gx[bi]! -= (g[i]! * A[ai]!) / (y * y); } break;
        case MIN: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; gx[bi]! += y < x ? g[i]! : x === y ? 0.5 * g[i]! : 0; } break;
        case MAX: for (let i = o; i < e; i++, ai += sa, bi += sb) { const x = A[ai]!, y = B[bi]!; gx[bi]! += y > x ? g[i]! : x === y ? 0.5 * g[i]! : 0; } break;
      }
    }
  }
}

function binary(code: number, aIn: TensorLike, bIn: TensorLike): Tensor {
  const a = asTensor(aIn);
  const b = asTensor(bIn);
  const op = NAMES[code]!;
  const plan = planFor(op, a, b);
  const out = new Float32Array(plan.size);
  forward(code, a.data, b.data, out, plan);
  const differentiable = code <= MAX;
  // same shapes: an input without a gradient yet gets it written in one pass (no zero-fill, no read)
  const same = plan.rows === 1 && plan.innerStrides[0] === 1 && plan.innerStrides[1] === 1 && a.size === plan.size && b.size === plan.size;
  return makeResult(op, out, plan.shape, [a, b], !differentiable || !needsGrad(a, b) ? null : (g) => {
    if (a.requiresGrad && !(same && writeGrad(code, 0, a, b.data, g))) backward(code, 0, a.data, b.data, g, gradBuffer(a), plan);
    if (b.requiresGrad && !(same && writeGrad(code, 1, b, a.data, g))) backward(code, 1, a.data, b.data, g, gradBuffer(b), plan);
  });
}

/**
 * For same-shape add/sub/mul: writes input `which`'s gradient when it has none yet (the same values the
 * accumulating loops would add to zeros); false when it must accumulate instead.
 */
function writeGrad(code: number, which: number, x: Tensor, other: Float32Array, g: Float32Array): boolean {
  if (code !== ADD && code !== SUB && code !== MUL) return false;
  const gx = freshGradBuffer(x);
  if (gx === null) return false;
  const n = gx.length;
  if (code === MUL) for (let i = 0; i < n; i++) gx[i] = g[i]! * other[i]!;
  else if (code === SUB && which === 1) for (let i = 0; i < n; i++) gx[i] = -g[i]!;
  else gx.set(g.subarray(0, n));
  return true;
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary(ADD, a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary(SUB, a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(MUL, a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary(DIV, a, b);
/** Elementwise minimum (NaN propagates from a); on ties the gradient is split evenly. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(MIN, a, b);
/** Elementwise maximum (NaN propagates from a); on ties the gradient is split evenly. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(MAX, a, b);
/** 1 where a > b, else 0 (no gradient). */
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary(GT, a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary(GE, a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary(LT, a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => binary(LE, a, b);
export const eq = (a: TensorLike, b: TensorLike): Tensor => binary(EQ, a, b);

/** Elementwise cond ? a : b, with cond a mask tensor (nonzero = true); all three broadcast together. */
export function where(cond: Tensor, aIn: TensorLike, bIn: TensorLike): Tensor {
  const a = asTensor(aIn);
  const b = asTensor(bIn);
  const p = broadcastPlan("where", [cond.shape, a.shape, b.shape]);
  const out = new Float32Array(p.size);
  const C = cond.data, A = a.data, B = b.data;
  const [oc, oa, ob] = p.offsets as [Int32Array, Int32Array, Int32Array];
  const [sc, sa, sb] = p.innerStrides as [number, number, number];
  const { rows, inner } = p;
  for (let r = 0; r < rows; r++) {
    let ci = oc[r]!, ai = oa[r]!, bi = ob[r]!;
    for (let i = r * inner, e = i + inner; i < e; i++, ci += sc, ai += sa, bi += sb) out[i] = C[ci] !== 0 ? A[ai]! : B[bi]!;
  }
  return makeResult("where", out, p.shape, [cond, a, b], !needsGrad(a, b) ? null : (g) => {
    const ga = a.requiresGrad ? gradBuffer(a) : null;
    const gb = b.requiresGrad ? gradBuffer(b) : null;
    for (let r = 0; r < rows; r++) {
      let ci = oc[r]!, ai = oa[r]!, bi = ob[r]!;
      for (let i = r * inner, e = i + inner; i < e; i++, ci += sc, ai += sa, bi += sb) {
        if (C[ci] !== 0) { if (ga) ga[ai]! += g[i]!; } else if (gb) gb[bi]! += g[i]!;
      }
    }
  });
}

/** Clamps into [min, max] (either bound may be null); the gradient passes where min ≤ x ≤ max, as in PyTorch. */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  if (min !== null && max !== null && min > max) throw new ShapeError(`clamp: min ${min} > max ${max} for tensor ${shapeStr(x.shape)}`);
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  const X = x.data;
  const out = new Float32Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const v = X[i]!;
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return makeResult("clamp", out, x.shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let i = 0; i < X.length; i++) {
      const v = X[i]!;
      if (v >= lo && v <= hi) gx[i]! += g[i]!;
    }
  });
}

// Tensor methods: x.op(…) is op(x, …)
declare module "../tensor.js" {
  interface Tensor {
    add(b: TensorLike): Tensor;
    sub(b: TensorLike): Tensor;
    mul(b: TensorLike): Tensor;
    div(b: TensorLike): Tensor;
    minimum(b: TensorLike): Tensor;
    maximum(b: TensorLike): Tensor;
    gt(b: TensorLike): Tensor;
    ge(b: TensorLike): Tensor;
    lt(b: TensorLike): Tensor;
    le(b: TensorLike): Tensor;
    eq(b: TensorLike): Tensor;
    clamp(min: number | null, max: number | null): Tensor;
  }
}
defineTensorMethods({
  add(b) { return add(this, b); },
  sub(b) { return sub(this, b); },
  mul(b) { return mul(this, b); },
  div(b) { return div(this, b); },
  minimum(b) { return minimum(this, b); },
  maximum(b) { return maximum(this, b); },
  gt(b) { return gt(this, b); },
  ge(b) { return ge(this, b); },
  lt(b) { return lt(this, b); },
  le(b) { return le(this, b); },
  eq(b) { return eq(this, b); },
  clamp(lo, hi) { return clamp(this, lo, hi); },
});
