// Checks a matmul call against its buffers once, for every backend, and fills in the defaults of MatmulArgs,
// so a bad call fails with a ShapeError naming the problem instead of reading garbage or out of bounds.
import { ShapeError } from "../errors.js";
import type { MatmulArgs } from "./types.js";

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
