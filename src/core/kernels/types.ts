// The kernel interface: every compute-heavy primitive the tensor ops need (matrix products, convolution), implemented by three backends —
// `js` (plain TypeScript, the reference), `wasm` (WebAssembly SIMD, the default) and `blas` (the system's
// CBLAS through koffi). Tensors and autograd call only this interface, never a backend directly.

import type { DensePasses } from "./conv_dense.js";
import type { GatedGridPasses } from "./gated_grid.js";

export type BackendName = "js" | "wasm" | "blas";

/**
 * Batched row-major GEMM: for each b in [0, batch):
 *   C_b[m×n] = op(A_b) · op(B_b) + (accumulate ? C_b : 0)
 * where op(A_b) is m×k (A_b stored k×m when transA) and op(B_b) is k×n (B_b stored n×k when transB).
 * A_b starts at aOffset + b·strideA (strideA = 0 broadcasts one matrix over the batch), likewise B and C.
 */
export interface MatmulArgs {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** number of matrices in the batch (default 1) */
  batch?: number;
  /** elements between consecutive A matrices (default m·k; 0 broadcasts) */
  strideA?: number;
  /** elements between consecutive B matrices (default k·n; 0 broadcasts) */
  strideB?: number;
  /** elements between consecutive C matrices (default m·n) */
  strideC?: number;
  /** add into C instead of overwriting it (used to accumulate gradients) */
  accumulate?: boolean;
}

/** A GEMM as a function value (KernelBackend.matmul's signature): what convolutions hand their products to. */
export type Matmul = (a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs) => void;

export interface KernelBackend {
  readonly name: BackendName;
  /** how many threads the backend computes large kernels on */
  readonly threads: number;
  /**
   * asks for up to `threads` threads on large kernels (clamped to what the backend has); js and wasm results never
   * depend on it, blas results repeat at a fixed thread count but may differ in the last bits across counts
   */
  setThreads(threads: number): void;
  /** C = op(A)·op(B) (+ C), see MatmulArgs. */
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void;
  /** y = relu?(conv(relu?(x), w) + bias + residual), see Conv2dArgs; y is overwritten. */
  conv2d(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs): void;
  /**
   * Adds the gradients of conv2d's inputs into `grads`, given the output gradient gy (and the output y when the
   * output was rectified: the mask is y > 0; x also gives the input mask when the input was rectified).
   */
  conv2dBackward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void;
  /**
   * Max pooling of `planes` planes (h×w) into y [planes, ho, wo], with argmax[i] the flat index into x of output i's
   * maximum (padding counts as −∞, ties go to the first element in row-major window order, the first NaN wins).
   */
  maxPool2d(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): void;
  /** The max-pool's input gradient: gx[argmax[i]] += gy[i] for i < len (outputs in order, so repeats add alike). */
  maxPool2dBackward(gy: Float32Array, argmax: Int32Array, gx: Float32Array, len: number): void;
  /**
   * Optional, where a backend has a faster way: conv2d without ReLUs or residual followed by a max-pool of window
   * `pool` over its output, the pooled output [n, o, po, qo] into `pooled` without writing the convolution's
   * output out (the blas backend with oneDNN: the pooling reads the convolution's blocked output). Returns what
   * the backward needs, or null when this call is not fused (the caller then runs conv2d and maxPool2d).
   */
  conv2dMaxPool?(x: Float32Array, weight: Float32Array, bias: Float32Array | null, pooled: Float32Array, args: Conv2dArgs, pool: PoolWindow): ConvPoolState | null;
  /** The gradients of a fused call's inputs from the pooled output's gradient, added into `grads` (no residual). */
  conv2dMaxPoolBackward?(state: ConvPoolState, x: Float32Array, weight: Float32Array, gPooled: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void;
  /** Frees a fused call's state once no backward will read it. */
  releaseConvPool?(state: ConvPoolState): void;
  /** The elementwise passes around convolutions, for layers that fuse their own: WebAssembly SIMD on its memory where the backend has it, else the js loops. */
  readonly densePasses: DensePasses;
  /** gated value iteration's hard-max backups on free 4-connected grids (the planner with learned passability) */
  readonly gatedGrid: GatedGridPasses;
}

/** A pooling window over an image (its size comes with the call). */
export type PoolWindow = Pick<Window2d, "kh" | "kw" | "strideH" | "strideW" | "padH" | "padW">;

/** What a fused convolution + max-pool keeps for its backward: its window and the pooling workspace (which input each output took). */
export interface ConvPoolState {
  readonly pool: PoolWindow;
  readonly ws: Float32Array;
}

/** A sliding kh×kw window over h×w planes with strides and zero (or −∞) padding: convolution and pooling. */
export interface Window2d {
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

/** Output height and width of a window (assumed valid: checked by the op). */
export function windowOutputSize(a: Window2d): [number, number] {
  return [Math.floor((a.h + 2 * a.padH - a.kh) / a.strideH) + 1, Math.floor((a.w + 2 * a.padW - a.kw) / a.strideW) + 1];
}

/** A pooling call: `planes` = batch · channels planes of h×w. */
export interface Pool2dArgs extends Window2d {
  planes: number;
}

/**
 * A 2-D convolution call, NCHW input [n, c, h, w], OIHW filter [o, c, kh, kw], NCHW output [n, o, ho, wo]:
 *   y = relu?(conv(relu?(x), w) + bias + residual)
 * `reluInput` rectifies the input as it is read (the IMPALA residual block's pre-activation, without a copy);
 * `relu` rectifies the output; the residual (same shape as y) is added before that.
 */
export interface Conv2dArgs extends Window2d {
  n: number;
  c: number;
  /** output channels */
  o: number;
  reluInput: boolean;
  relu: boolean;
}

/** Gradient buffers a conv2d backward call adds into (null: not wanted). */
export interface Conv2dGrads {
  /** [n, c, h, w] */
  x: Float32Array | null;
  /** [o, c, kh, kw] */
  weight: Float32Array | null;
  /** [o] */
  bias: Float32Array | null;
  /** [n, o, ho, wo] */
  residual: Float32Array | null;
}
