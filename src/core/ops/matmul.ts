// Matrix products: batched matmul with transA/transB as first-class variants, and linear (x·Wᵀ + b, the bias
// fused into the GEMM by pre-filling the output). Backward rules call the NT/TN variants of the same GEMM, so no
// transpose is ever materialised. Every product goes through `gemm`, the one switch point to the kernel backend.
import { ShapeError } from "../errors.js";
import { kernels } from "../kernels/index.js";
import type { MatmulArgs } from "../kernels/types.js";
import { type Shape, broadcastShape, shapeStr, sizeOf, stridesOf } from "../shape.js";
import { Tensor, defineTensorMethods, freshGradBuffer, gradBuffer, makeResult, needsGrad } from "../tensor.js";
import { addColumnSums } from "./reduce.js";

/** C = op(A)·op(B) (+ C) on the active kernel backend (see MatmulArgs): the ops' single entry point to it. */
export function gemm(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void {
  kernels().matmul(a, b, c, args);
}

export interface MatmulOptions {
  /** use Aᵀ (A's last two dims are stored [k, m]) */
  transA?: boolean;
  /** use Bᵀ (B's last two dims are stored [n, k]), e.g. x·Wᵀ with a PyTorch-layout weight */
  transB?: boolean;
}

/** Per-batch element offsets of a [..., rows, cols] operand broadcast into `batchShape`. */
function batchOffsets(shape: Shape, batchShape: Shape, matSize: number): Int32Array {
  const own = shape.slice(0, -2);
  const nb = sizeOf(batchShape);
  const off = new Int32Array(nb);
  const st = stridesOf(own);
  const pad = batchShape.length - own.length;
  const idx = new Array<number>(batchShape.length).fill(0);
  for (let b = 0; b < nb; b++) {
    let o = 0;
    for (let d = 0; d < own.length; d++) if (own[d] !== 1) o += idx[pad + d]! * st[d]!;
    off[b] = o * matSize;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
  return off;
}

/** Stride for a regular offset pattern (b·s for all b, or all 0), or -1 when irregular. */
function regularStride(off: Int32Array, matSize: number): number {
  let zero = true;
  let full = true;
  for (let b = 0; b < off.length; b++) {
    if (off[b] !== 0) zero = false;
    if (off[b] !== b * matSize) full = false;
  }
  return full ? matSize : zero ? 0 : -1;
}

/** Runs a batched GEMM given per-batch offsets; uses one batched call when the offsets are regular. */
function batchedGemm(
  a: Float32Array, offA: Int32Array, b: Float32Array, offB: Int32Array, c: Float32Array, offC: Int32Array,
  m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean,
): void {
  const nb = offC.length;
  const sA = regularStride(offA, m * k);
  const sB = regularStride(offB, k * n);
  const sC = regularStride(offC, m * n);
  // an output written by several batch entries (stride 0) must be accumulated sequentially, one call each
  if ((sA >= 0 && sB >= 0 && sC > 0) || nb === 1) {
    gemm(a, b, c, { m, n, k, transA, transB, batch: nb, strideA: sA, strideB: sB, strideC: sC, accumulate });
    return;
  }
  for (let i = 0; i < nb; i++) {
    gemm(a.subarray(offA[i]!, offA[i]! + m * k), b.subarray(offB[i]!, offB[i]! + k * n), c.subarray(offC[i]!, offC[i]! + m * n), {
      m, n, k, transA, transB, accumulate,
    });
  }
}

/**
 * Batched matrix product op(a)·op(b) over the last two dims; leading (batch) dims broadcast. A 2-D `b` (a weight)
 * with a non-transposed `a` is folded into one large GEMM over all rows of `a`.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const op = `matmul${transA ? "(transA)" : ""}${transB ? "(transB)" : ""}`;
  if (a.ndim < 2 || b.ndim < 2) {
    throw new ShapeError(`${op}: both operands need ≥ 2 dims, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`, "reshape vectors to [1, n] or [n, 1]");
  }
  const ar = a.shape[a.ndim - 2]!;
  const ac = a.shape[a.ndim - 1]!;
  const br = b.shape[b.ndim - 2]!;
  const bc = b.shape[b.ndim - 1]!;
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError(`${op}: inner dims differ: ${shapeStr(a.shape)} gives k=${k} but ${shapeStr(b.shape)} gives k=${kb}`);
  }
  if (b.ndim === 2 && !transA) {
    // fold a's batch into rows: [R, k] · op(B) → [R, n]
    const rows = a.size / k;
    const out = new Float32Array(rows * n);
    gemm(a.data, b.data, out, { m: rows, n, k, transA: false, transB });
    const shape = [...a.shape.slice(0, -1), n];
    return makeResult(op, out, shape, [a, b], !needsGrad(a, b) ? null : (g) => {
      if (a.requiresGrad) gemm(g, b.data, gradBuffer(a), { m: rows, n: k, k: n, transA: false, transB: !transB, accumulate: true });
      if (b.requiresGrad) {
        if (!transB) gemm(a.data, g, gradBuffer(b), { m: k, n, k: rows, transA: true, transB: false, accumulate: true });
        else gemm(g, a.data, gradBuffer(b), { m: n, n: k, k: rows, transA: true, transB: false, accumulate: true });
      }
    });
  }
  const batchShape = broadcastShape(op, [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  const nb = sizeOf(batchShape);
  const offA = batchOffsets(a.shape, batchShape, m * k);
  const offB = batchOffsets(b.shape, batchShape, k * n);
  const offC = new Int32Array(nb);
  for (let i = 0; i < nb; i++) offC[i] = i * m * n;
  const out = new Float32Array(nb * m * n);
  batchedGemm(a.data, offA, b.data, offB, out, offC, m, n, k, transA, transB, false);
  return makeResult(op, out, [...batchShape, m, n], [a, b], !needsGrad(a, b) ? null : (g) => {
    if (a.requiresGrad) {
      // dA = dC·op(B)ᵀ, or stored transposed: dAᵀ = op(B)·dCᵀ
      if (!transA) batchedGemm(g, offC, b.data, offB, gradBuffer(a), offA, m, k, n, false, !transB, true);
      else batchedGemm(b.data, offB, g, offC, gradBuffer(a), offA, k, m, n, transB, true, true);
    }
    if (b.requiresGrad) {
      // dB = op(A)ᵀ·dC, or stored transposed: dBᵀ = dCᵀ·op(A)
      if (!transB) batchedGemm(a.data, offA, g, offC, gradBuffer(b), offB, k, n, m, !transA, false, true);
      else batchedGemm(g, offC, a.data, offA, gradBuffer(b), offB, n, k, m, true, transA, true);
    }
  });
}

/**
 * Writes `row` (length cols) into each of the first `rows` rows of `out`: one copy, then copyWithin doubling the
 * filled part — 12 calls for 2048 rows where one set() per row costs a call each (~0.16 ms per RL step).
 */
export function fillRows(out: Float32Array, row: Float32Array, rows: number, cols: number): void {
  if (rows === 0 || cols === 0) return;
  out.set(row);
  const total = rows * cols;
  for (let filled = cols; filled < total; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, total - filled));
}

/** x·Wᵀ + b with a PyTorch-layout weight [out, in]: x [..., in] → [..., out]; the bias add is fused. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be [out, in], got ${shapeStr(weight.shape)}`);
  const outF = weight.shape[0]!;
  const inF = weight.shape[1]!;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not end in in_features=${inF} of weight ${shapeStr(weight.shape)}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new ShapeError(`linear: bias ${shapeStr(bias.shape)} does not match out_features=${outF} of weight ${shapeStr(weight.shape)}`);
  }
  const rows = x.size / inF;
  const out = new Float32Array(rows * outF);
  if (bias) fillRows(out, bias.data, rows, outF);
  gemm(x.data, weight.data, out, { m: rows, n: outF, k: inF, transA: false, transB: true, accumulate: !!bias });
  const parents = bias ? [x, weight, bias] : [x, weight];
  return makeResult("linear", out, [...x.shape.slice(0, -1), outF], parents, !needsGrad(x, weight, bias ?? undefined) ? null : (g) => {
    // an input without a gradient yet gets it written by the GEMM (beta = 0): no zero-fill, no read
    if (x.requiresGrad) {
      const fresh = freshGradBuffer(x);
      gemm(g, weight.data, fresh ?? x.grad!.data, { m: rows, n: inF, k: outF, transA: false, transB: false, accumulate: fresh === null });
    }
    if (weight.requiresGrad) {
      const fresh = freshGradBuffer(weight);
      gemm(g, x.data, fresh ?? weight.grad!.data, { m: outF, n: inF, k: rows, transA: true, transB: false, accumulate: fresh === null });
    }
    if (bias && bias.requiresGrad) addColumnSums(g, rows, outF, gradBuffer(bias));
  });
}

// Tensor methods: x.op(…) is op(x, …)
declare module "../tensor.js" {
  interface Tensor {
    matmul(b: Tensor, options?: MatmulOptions): Tensor;
  }
}
defineTensorMethods({
  matmul(b, options) { return matmul(this, b, options); },
});
