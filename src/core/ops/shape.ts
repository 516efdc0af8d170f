// Shape ops: reshape/flatten/squeeze/unsqueeze (views sharing data), transpose/permute (strided copies),
// slice, concat, stack and expand. Backward rules are the inverse data movement, accumulated.
import { ShapeError } from "../errors.js";
import { type Shape, broadcastPlan, normAxis, sameShape, shapeStr, sizeOf, splitAt, stridesOf } from "../shape.js";
import { Tensor, defineTensorMethods, gradBuffer, makeResult, needsGrad } from "../tensor.js";

/** Same data, new shape (one dim may be -1). Shares the data buffer. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`reshape: ${shapeStr(shape)} has more than one -1`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) throw new ShapeError(`reshape: bad dim ${d} in ${shapeStr(shape)}`);
    else known *= d;
  }
  const target = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) throw new ShapeError(`reshape: cannot infer -1 in ${shapeStr(shape)} from ${shapeStr(x.shape)} (${x.size} elements)`);
    target[infer] = x.size / known;
  }
  if (sizeOf(target) !== x.size) {
    throw new ShapeError(`reshape: ${shapeStr(x.shape)} (${x.size} elements) cannot become ${shapeStr(shape)} (${sizeOf(target)} elements)`);
  }
  if (sameShape(target, x.shape)) return x;
  const out: Tensor = makeResult("reshape", x.data, target, [x], !needsGrad(x) ? null : (g) => {
    // the output's grad buffer is dropped right after this call, so the input can adopt it instead of a copy
    if (x.grad === null && !out._retainGrad) {
      x.grad = new Tensor(g, x.shape);
      out.grad = null; // the buffer now belongs to x: backward() must not recycle it
      return;
    }
    const gx = gradBuffer(x);
    for (let i = 0; i < g.length; i++) gx[i]! += g[i]!;
  });
  return out;
}

/** Merges dims from `startAxis` to the end into one. */
export function flatten(x: Tensor, startAxis = 0): Tensor {
  const a = normAxis("flatten", startAxis, Math.max(x.ndim, 1), x.shape);
  return reshape(x, [...x.shape.slice(0, a), -1]);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normAxis("squeeze", axis, x.ndim, x.shape);
  if (x.shape[a] !== 1) throw new ShapeError(`squeeze: dim ${a} of ${shapeStr(x.shape)} is ${x.shape[a]}, not 1`);
  const s = x.shape.slice();
  s.splice(a, 1);
  return reshape(x, s);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis("unsqueeze", axis, x.ndim + 1, x.shape);
  const s = x.shape.slice();
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/** dst[j] (+)= src[i] where dst has dims srcShape[perm[d]]. Inner loop runs along the last output dim. */
export function permuteInto(src: Float32Array, srcShape: Shape, perm: readonly number[], dst: Float32Array, accumulate: boolean): void {
  const nd = srcShape.length;
  if (nd === 0) {
    dst[0] = accumulate ? dst[0]! + src[0]! : src[0]!;
    return;
  }
  if (sizeOf(srcShape) === 0) return;
  const inSt = stridesOf(srcShape);
  // drop size-1 dims and pad to ≥ 2 dims, so the two innermost output dims run as tight nested loops
  const outShape: number[] = [];
  const st: number[] = [];
  for (const p of perm) {
    if (srcShape[p]! === 1) continue;
    outShape.push(srcShape[p]!);
    st.push(inSt[p]!);
  }
  while (outShape.length < 2) {
    outShape.unshift(1);
    st.unshift(0);
  }
  const n = outShape.length;
  const inner = outShape[n - 1]!;
  const sIn = st[n - 1]!;
  const mid = outShape[n - 2]!;
  const sMid = st[n - 2]!;
  const blocks = sizeOf(outShape) / (inner * mid);
  const idx = new Array<number>(n).fill(0);
  let base = 0;
  let o = 0;
  for (let b = 0; b < blocks; b++) {
    for (let a = 0, sa = base; a < mid; a++, sa += sMid, o += inner) {
      if (accumulate) for (let i = 0, s = sa; i < inner; i++, s += sIn) dst[o + i]! += src[s]!;
      else for (let i = 0, s = sa; i < inner; i++, s += sIn) dst[o + i] = src[s]!;
    }
    for (let d = n - 3; d >= 0; d--) {
      idx[d]!++;
      base += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      base -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** Reorders dims: result dim d is input dim order[d]. Copies. */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  const nd = x.ndim;
  const perm = order.map((a) => normAxis("permute", a, nd, x.shape));
  if (perm.length !== nd || new Set(perm).size !== nd) {
    throw new ShapeError(`permute: order [${order.join(", ")}] is not a permutation of the ${nd} dims of ${shapeStr(x.shape)}`);
  }
  const outShape = perm.map((p) => x.shape[p]!);
  const out = new Float32Array(x.size);
  permuteInto(x.data, x.shape, perm, out, false);
  const inv = new Array<number>(nd);
  for (let d = 0; d < nd; d++) inv[perm[d]!] = d;
  return makeResult("permute", out, outShape, [x], !needsGrad(x) ? null : (g) => permuteInto(g, outShape, inv, gradBuffer(x), true));
}

/** Swaps two dims (the last two by default). Copies. */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const a = normAxis("transpose", axis0, x.ndim, x.shape);
  const b = normAxis("transpose", axis1, x.ndim, x.shape);
  const perm = Array.from({ length: x.ndim }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Elements start..end-1 along `axis` (negative indices count from the end; clamped like Python slices). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis("slice", axis, x.ndim, x.shape);
  const [outer, r, inner] = splitAt(x.shape, a);
  const norm = (v: number): number => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = norm(start);
  const e = Math.max(s, norm(end ?? r));
  const len = e - s;
  const out = new Float32Array(outer * len * inner);
  const X = x.data;
  const block = len * inner;
  for (let o = 0; o < outer; o++) out.set(X.subarray((o * r + s) * inner, (o * r + s) * inner + block), o * block);
  const shape = x.shape.slice();
  shape[a] = len;
  return makeResult("slice", out, shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let o = 0; o < outer; o++) {
      const src = o * block;
      const dst = (o * r + s) * inner;
      for (let i = 0; i < block; i++) gx[dst + i]! += g[src + i]!;
    }
  });
}

/** Joins tensors along an existing axis; all other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError("concat: no tensors given");
  const first = tensors[0]!;
  const a = normAxis("concat", axis, first.ndim, first.shape);
  for (const t of tensors) {
    const ok = t.ndim === first.ndim && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!ok) throw new ShapeError(`concat: shapes ${shapeStr(first.shape)} and ${shapeStr(t.shape)} differ outside axis ${a}`);
  }
  const [outer, , inner] = splitAt(first.shape, a);
  const lens = tensors.map((t) => t.shape[a]!);
  const total = lens.reduce((s, v) => s + v, 0);
  const out = new Float32Array(outer * total * inner);
  const rowOut = total * inner;
  let off = 0;
  const offs: number[] = [];
  for (let t = 0; t < tensors.length; t++) {
    offs.push(off);
    const X = tensors[t]!.data;
    const block = lens[t]! * inner;
    for (let o = 0; o < outer; o++) out.set(X.subarray(o * block, (o + 1) * block), o * rowOut + off);
    off += block;
  }
  const shape = first.shape.slice();
  shape[a] = total;
  const parents = tensors.slice();
  return makeResult("concat", out, shape, parents, !parents.some((p) => needsGrad(p)) ? null : (g) => {
    for (let t = 0; t < parents.length; t++) {
      const p = parents[t]!;
      if (!p.requiresGrad) continue;
      const gx = gradBuffer(p);
      const block = lens[t]! * inner;
      for (let o = 0; o < outer; o++) {
        const src = o * rowOut + offs[t]!;
        const dst = o * block;
        for (let i = 0; i < block; i++) gx[dst + i]! += g[src + i]!;
      }
    }
  });
}

/** Stacks same-shape tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError("stack: no tensors given");
  const first = tensors[0]!;
  for (const t of tensors) {
    if (!sameShape(t.shape, first.shape)) throw new ShapeError(`stack: shapes ${shapeStr(first.shape)} and ${shapeStr(t.shape)} differ`);
  }
  const a = normAxis("stack", axis, first.ndim + 1, first.shape);
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

/** Broadcasts to `shape` (materialised copy); the gradient sums over the broadcast dims. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const p = broadcastPlan("expand", [x.shape, shape]);
  if (!sameShape(p.shape, shape)) throw new ShapeError(`expand: ${shapeStr(x.shape)} cannot be broadcast to ${shapeStr(shape)}`);
  const out = new Float32Array(p.size);
  const X = x.data;
  const ox = p.offsets[0]!;
  const sx = p.innerStrides[0]!;
  const { rows, inner } = p;
  // a value repeated along the inner run (e.g. [B, C, 1, 1] → [B, C, H, W]) is a fill, and its gradient one sum
  if (sx === 0) for (let r = 0; r < rows; r++) out.fill(X[ox[r]!]!, r * inner, (r + 1) * inner);
  else {
    for (let r = 0; r < rows; r++) {
      let xi = ox[r]!;
      for (let i = r * inner, e = i + inner; i < e; i++, xi += sx) out[i] = X[xi]!;
    }
  }
  return makeResult("expand", out, shape.slice(), [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let r = 0; r < rows; r++) {
      let xi = ox[r]!;
      if (sx === 0) {
        let sum = 0;
        for (let i = r * inner, e = i + inner; i < e; i++) sum += g[i]!;
        gx[xi]! += sum;
        continue;
      }
      for (let i = r * inner, e = i + inner; i < e; i++, xi += sx) gx[xi]! += g[i]!;
    }
  });
}

// Tensor methods: x.op(…) is op(x, …)
declare module "../tensor.js" {
  interface Tensor {
    reshape(shape: Shape): Tensor;
    flatten(startAxis?: number): Tensor;
    squeeze(axis: number): Tensor;
    unsqueeze(axis: number): Tensor;
    transpose(axis0?: number, axis1?: number): Tensor;
    permute(order: readonly number[]): Tensor;
    slice(axis: number, start: number, end?: number): Tensor;
    expand(shape: Shape): Tensor;
  }
}
defineTensorMethods({
  reshape(shape) { return reshape(this, shape); },
  flatten(startAxis = 0) { return flatten(this, startAxis); },
  squeeze(axis) { return squeeze(this, axis); },
  unsqueeze(axis) { return unsqueeze(this, axis); },
  transpose(axis0 = -2, axis1 = -1) { return transpose(this, axis0, axis1); },
  permute(order) { return permute(this, order); },
  slice(axis, start, end) { return slice(this, axis, start, end); },
  expand(shape) { return expand(this, shape); },
});
