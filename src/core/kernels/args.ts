// Checks a matmul or conv2d call against its buffers once, for every backend, and fills in the defaults of MatmulArgs,
// so a bad call fails with a ShapeError naming the problem instead of reading garbage or out of bounds.
import { ShapeError } from "../errors.js";
import { type Conv2dArgs, type MatmulArgs, type Pool2dArgs, windowOutputSize } from "./types.js";

/** MatmulArgs with every default resolved. */
export interface ResolvedMatmul {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
  accumulate: boolean;
  /** elements of A/B/C the call reads or writes, from the start of each array */
  spanA: number;
  spanB: number;
  spanC: number;
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new ShapeError(`matmul: ${name} must be a non-negative integer, got ${value}`, "pass whole-number sizes and strides");
  }
}

/** The span of `batch` matrices of `size` elements `stride` apart (0 when nothing is touched). */
function span(batch: number, stride: number, size: number): number {
  return batch === 0 || size === 0 ? 0 : (batch - 1) * stride + size;
}

export function resolveMatmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): ResolvedMatmul {
  const { m, n, k } = args;
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? m * k;
  const strideB = args.strideB ?? k * n;
  const strideC = args.strideC ?? m * n;
  for (const [name, v] of [["m", m], ["n", n], ["k", k], ["batch", batch], ["strideA", strideA], ["strideB", strideB], ["strideC", strideC]] as const) {
    checkCount(name, v);
  }
  const r: ResolvedMatmul = {
    m, n, k, batch, strideA, strideB, strideC,
    transA: args.transA, transB: args.transB, accumulate: args.accumulate ?? false,
    spanA: span(batch, strideA, m * k),
    spanB: span(batch, strideB, k * n),
    spanC: span(batch, strideC, m * n),
  };
  const shapeA = args.transA ? `${k}×${m}` : `${m}×${k}`;
  const shapeB = args.transB ? `${n}×${k}` : `${k}×${n}`;
  const need = (what: string, arr: Float32Array, spanLen: number, shape: string, stride: number): void => {
    if (arr.length < spanLen) {
      throw new ShapeError(
        `matmul: ${what} has ${arr.length} elements but ${batch} matrices of ${shape} with stride ${stride} need ${spanLen}`,
        "check m, n, k, batch and the strides against the buffers",
      );
    }
  };
  need("A", a, r.spanA, shapeA, strideA);
  need("B", b, r.spanB, shapeB, strideB);
  need("C", c, r.spanC, `${m}×${n}`, strideC);
  return r;
}

/** Floating-point operations of a matmul call (2·m·n·k per batch item). */
export function matmulFlops(args: MatmulArgs): number {
  return 2 * args.m * args.n * args.k * (args.batch ?? 1);
}

/** Checks a conv2d call against its buffers (every backend), so a bad call fails with a ShapeError, never reads garbage. */
export function checkConv2d(
  x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array | null, args: Conv2dArgs,
): [number, number] {
  const { n, c, h, w, o, kh, kw, strideH, strideW, padH, padW } = args;
  for (const [name, v] of [["n", n], ["c", c], ["h", h], ["w", w], ["o", o], ["kh", kh], ["kw", kw], ["padH", padH], ["padW", padW]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new ShapeError(`conv2d: ${name} must be a non-negative integer, got ${v}`);
  }
  for (const [name, v] of [["strideH", strideH], ["strideW", strideW], ["kh", kh], ["kw", kw]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(`conv2d: ${name} must be a positive integer, got ${v}`);
  }
  const [ho, wo] = windowOutputSize(args);
  if (ho < 1 || wo < 1) throw new ShapeError(`conv2d: a ${kh}×${kw} kernel does not fit a ${h}×${w} image with padding ${padH}×${padW}`, "use a smaller kernel or more padding");
  const need = (what: string, arr: Float32Array | null, len: number): void => {
    if (arr !== null && arr.length < len) throw new ShapeError(`conv2d: ${what} has ${arr.length} elements, the call needs ${len}`, "check the shapes passed with the buffers");
  };
  need("x", x, n * c * h * w);
  need("weight", weight, o * c * kh * kw);
  need("bias", bias, o);
  need("residual", residual, n * o * ho * wo);
  need("y", y, n * o * ho * wo);
  return [ho, wo];
}

/** Checks a max-pool call against its buffers; returns the output height and width. */
export function checkPool2d(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): [number, number] {
  for (const [name, v] of Object.entries(args)) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new ShapeError(`maxPool2d: ${name} must be a non-negative integer, got ${v}`);
  }
  if (args.kh < 1 || args.kw < 1 || args.strideH < 1 || args.strideW < 1) throw new ShapeError("maxPool2d: kernel and stride must be at least 1");
  if (args.padH * 2 > args.kh || args.padW * 2 > args.kw) throw new ShapeError(`maxPool2d: padding ${args.padH}×${args.padW} must be at most half the kernel ${args.kh}×${args.kw}`);
  const [ho, wo] = windowOutputSize(args);
  if (ho < 1 || wo < 1) throw new ShapeError(`maxPool2d: a ${args.kh}×${args.kw} window does not fit a ${args.h}×${args.w} plane with padding ${args.padH}×${args.padW}`);
  const out = args.planes * ho * wo;
  if (x.length < args.planes * args.h * args.w) throw new ShapeError(`maxPool2d: x has ${x.length} elements, the call needs ${args.planes * args.h * args.w}`);
  if (y.length < out || argmax.length < out) throw new ShapeError(`maxPool2d: y and argmax need ${out} elements, got ${y.length} and ${argmax.length}`);
  return [ho, wo];
}
