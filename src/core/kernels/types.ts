// The kernel interface: every compute-heavy primitive the tensor ops need, implemented by three backends —
// `js` (plain TypeScript, the reference), `wasm` (WebAssembly SIMD, the default) and `blas` (the system's
// CBLAS through koffi). Tensors and autograd call only this interface, never a backend directly.

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
}
