// Integer indexing with gradients: gather along the last axis (log-probs of taken actions), indexSelect along
// any axis and embedding lookup. Gradients scatter-add into the source, so repeated indices accumulate.
import { DTypeError, ShapeError } from "../errors.js";
import { normAxis, shapeStr, splitAt } from "../shape.js";
import { IntTensor, type Tensor, defineTensorMethods, gradBuffer, makeResult, needsGrad } from "../tensor.js";

function asIndex(op: string, index: IntTensor | Int32Array): IntTensor {
  if (index instanceof IntTensor) return index;
  if (index instanceof Int32Array) return new IntTensor(index);
  throw new DTypeError(`${op}: index must be an IntTensor or Int32Array, got ${(index as object)?.constructor?.name ?? typeof index}`, "build indices with intTensor([...])");
}

function checkRange(op: string, idx: Int32Array, n: number): void {
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < 0 || v >= n) throw new ShapeError(`${op}: index ${v} (at position ${i}) is out of range for an axis of size ${n}`);
  }
}

/**
 * Picks along the last axis: x [..., n] with index [...] (one per row) → [...], or index [..., k] → [..., k].
 * The leading dims of index must equal x's.
 */
export function gather(x: Tensor, indexIn: IntTensor | Int32Array): Tensor {
  const index = asIndex("gather", indexIn);
  if (x.ndim < 1) throw new ShapeError("gather: x must have at least one dim");
  const n = x.shape[x.ndim - 1]!;
  const lead = x.shape.slice(0, -1);
  const rows = x.size / Math.max(n, 1);
  let k: number;
  let shape: number[];
  if (index.shape.length === lead.length && index.shape.every((d, i) => d === lead[i])) {
    k = 1;
    shape = lead.slice();
  } else if (index.shape.length === x.ndim && index.shape.slice(0, -1).every((d, i) => d === lead[i])) {
    k = index.shape[x.ndim - 1]!;
    shape = index.shape.slice();
  } else {
    throw new ShapeError(`gather: index ${shapeStr(index.shape)} does not fit x ${shapeStr(x.shape)}`, `index must be ${shapeStr(lead)} (one per row) or [${[...lead, "k"].join(", ")}]`);
  }
  const I = index.data;
  checkRange("gather", I, n);
  const X = x.data;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) out[r * k + j] = X[r * n + I[r * k + j]!]!;
  return makeResult("gather", out, shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) gx[r * n + I[r * k + j]!]! += g[r * k + j]!;
  });
}

/** Selects entries along `axis`: the axis of size n becomes index.size (index is flattened). */
export function indexSelect(x: Tensor, axis: number, indexIn: IntTensor | Int32Array): Tensor {
  const index = asIndex("indexSelect", indexIn);
  const a = normAxis("indexSelect", axis, x.ndim, x.shape);
  const [outer, n, inner] = splitAt(x.shape, a);
  const I = index.data;
  checkRange("indexSelect", I, n);
  const m = I.length;
  const X = x.data;
  const out = new Float32Array(outer * m * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < m; i++) {
      const src = (o * n + I[i]!) * inner;
      out.set(X.subarray(src, src + inner), (o * m + i) * inner);
    }
  }
  const shape = x.shape.slice();
  shape[a] = m;
  return makeResult("indexSelect", out, shape, [x], !needsGrad(x) ? null : (g) => {
    const gx = gradBuffer(x);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < m; i++) {
        const dst = (o * n + I[i]!) * inner;
        const src = (o * m + i) * inner;
        for (let j = 0; j < inner; j++) gx[dst + j]! += g[src + j]!;
      }
    }
  });
}

/** Rows of `weight` [vocab, dim] for each id: ids [...] → [..., dim]. */
export function embedding(weight: Tensor, idsIn: IntTensor | Int32Array): Tensor {
  const ids = asIndex("embedding", idsIn);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be [vocab, dim], got ${shapeStr(weight.shape)}`);
  const out = indexSelect(weight, 0, ids);
  return out.reshape([...ids.shape, weight.shape[1]!]);
}

// Tensor methods: x.op(…) is op(x, …)
declare module "../tensor.js" {
  interface Tensor {
    gather(index: IntTensor | Int32Array): Tensor;
    indexSelect(axis: number, index: IntTensor | Int32Array): Tensor;
  }
}
defineTensorMethods({
  gather(index) { return gather(this, index); },
  indexSelect(axis, index) { return indexSelect(this, axis, index); },
});
