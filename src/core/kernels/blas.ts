// The `blas` kernel backend: matmul through the system's CBLAS (OpenBLAS, BLIS, MKL, Accelerate) via the FFI
// package koffi. Float32Arrays are handed to cblas_sgemm as pointers (koffi passes typed arrays without a copy),
// one call per batch item. Convolutions of images up to twice the kernel's taps (coin-run's 3×6 and 2×3 stages)
// run as one dense product through this GEMM (conv_dense.ts), images of up to ROWS_MAX_PIXELS pixels (maze-cheese's
// 5×5 stage) as channels-last row products (conv_rows.ts); larger ones run as im2col in wasm with their
// GEMMs through cblas_sgemm on views of the wasm memory (WasmBackend.conv2dWithGemm), and pooling on wasm
// (`convolutionBackend`: the wasm kernels when they load, else the js reference for all of it).
// Loading fails with a reason (no library found, symbol missing) and the backend is
// then simply unavailable; nothing here is needed for the other backends.
// Batches of small products (attention heads, the ICL models' per-task products) run on the wasm kernel in one
// call instead: there one FFI call per product — and with OpenBLAS on two threads a thread hand-off per product —
// cost far more than the arithmetic.
// Determinism: a given library and thread count repeats bit for bit, but OpenBLAS runs different edge kernels
// when its thread split moves, so unlike wasm its last bits can change with the thread count.
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { resolveMatmul } from "./args.js";
import { type DensePasses, denseConv2d, denseConv2dBackward, denseConvFits, jsDensePasses } from "./conv_dense.js";
import { jsRowPasses, ROWS_BLOCK_FLOATS, ROWS_MAX_PIXELS, type RowPasses, rowsConv2d, rowsConv2dBackward, rowsConvFits } from "./conv_rows.js";
import { type GatedGridPasses, jsGatedGrid } from "./gated_grid.js";
import { JsBackend } from "./js.js";
import { type KoffiApi, OneDnn, oneDnnTakes } from "./onednn.js";
import type { Conv2dArgs, Conv2dGrads, ConvPoolState, KernelBackend, MatmulArgs, Pool2dArgs, PoolWindow } from "./types.js";
import { type HostGemm, WasmBackend } from "./wasm.js";

/**
 * Batched products with m·n·k at most this go to the wasm kernel. Measured on the generic autograd LSA (1,024
 * products of 11×11×11 per matmul): 414 ms per training step through cblas_sgemm on OpenBLAS's two threads,
 * 114 ms through wasm.
 */
export const SMALL_BATCHED_PRODUCT = 32 * 32 * 32;

/** Shared libraries tried in order, per platform; MESA_BLAS_LIB (a path or name) is tried first when set. */
const CANDIDATES: Record<string, readonly string[]> = {
  linux: ["libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblis.so.3", "libblis.so", "libmkl_rt.so.2", "libmkl_rt.so", "libcblas.so.3", "libblas.so.3"],
  darwin: [
    "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  ],
  win32: ["libopenblas.dll", "openblas.dll", "mkl_rt.2.dll", "mkl_rt.dll"],
};

/** Names that may resolve to any BLAS (Debian alternatives): used only when they turn out to be an optimised one. */
const GENERIC = new Set(["libcblas.so.3", "libblas.so.3"]);

/**
 * Images of at most this many times kh·kw pixels convolve as one dense product (see conv_dense.ts); larger ones
 * by im2col with OpenBLAS GEMMs. Measured in CNN PPO (coin-run small, one thread, CPU-time steps/s, machine under
 * load 14, alternating runs): 1,686–1,719 with factor 1 (only 2×3 images dense) against 2,049–2,077 with 2 (3×6
 * images too); on maze-cheese factor 3 (5×5 images too) made no difference (386–389 against 390–419).
 */
const BLAS_DENSE_CONV_FACTOR = 2;

/**
 * Products below this many flops (2·m·n·k per item) run on one OpenBLAS thread whatever the backend's thread count;
 * larger ones on all of them. OpenBLAS's own cut-off (m·n·k ≤ 2^18) leaves the PPO-sized products (1–17 MFLOP:
 * MLP layers of batch 512, the CNN's 1 MiB convolution blocks, the 105 MFLOP dense layer) on two threads, where the
 * hand-off to its worker cost more than the halved arithmetic, and its worker then spins on the second core. Measured
 * (machine shared, load 3.5–5.5, OPENBLAS_NUM_THREADS=1 against 2): points-bug MLP PPO 31,440 against 2,909 env
 * steps/s, maze-cheese CNN PPO 526 against 135; per product, repeated, two threads ran 0.41–0.57× one thread's
 * speed at 1–17 MFLOP, 0.69–0.83× at 34–105 MFLOP, and 0.86–0.94× at 268–2,147 MFLOP (load 5). On the quiet
 * machine (README, `npm run bench -- core`) two threads gain on 1024³ products; the threshold keeps those there.
 */
export const BLAS_PARALLEL_MIN_FLOPS = 1 << 27;

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

type Sgemm = (
  order: number, transA: number, transB: number, m: number, n: number, k: number, alpha: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
) => void;

/** Float64 Cholesky solves from the library's LAPACK (OpenBLAS carries one; the probes' ridge fits use it). */
export interface Lapack {
  /**
   * Solves A·X = B in place for the symmetric positive-definite A [n, n] (row-major; its lower triangle becomes
   * the Cholesky factor L, A = L·Lᵀ) and B [n, nrhs] (row-major, overwritten by X). Returns false, leaving B
   * unspecified, when A is not positive definite.
   */
  choleskySolve(A: Float64Array, n: number, B: Float64Array, nrhs: number): boolean;
}

const CBLAS_LEFT = 141;
const CBLAS_LOWER = 122;
const CBLAS_NON_UNIT = 131;

/** dpotrf_ (the Fortran name; OpenBLAS implements it in C without hidden string lengths) + cblas_dtrsm, or undefined. */
function loadLapack(lib: KoffiLib, useThreads: (flops: number) => void): Lapack | undefined {
  const potrf = tryFunc(lib, "int dpotrf_(const char *uplo, const int *n, _Inout_ double *a, const int *lda, _Out_ int *info)");
  const trsm = tryFunc(lib, "void cblas_dtrsm(int order, int side, int uplo, int transA, int diag, int m, int n, double alpha, const double *a, int lda, _Inout_ double *b, int ldb)");
  if (potrf === undefined || trsm === undefined) return undefined;
  return {
    choleskySolve(A, n, B, nrhs) {
      if (A.length < n * n || B.length < n * nrhs) throw new RangeError(`choleskySolve: A holds ${A.length} values for n = ${n}, B ${B.length} for ${n}×${nrhs}`);
      if (n === 0) return true;
      useThreads(n * n * (n / 3 + 2 * nrhs));
      const info = [0];
      // row-major A read as column-major is Aᵀ = A; its upper triangle (uplo "U") is the row-major lower one,
      // so the factor Uᵀ·U lands there as L = Uᵀ with A = L·Lᵀ
      potrf("U", [n], A, [n], info);
      if (info[0] !== 0) return false;
      if (nrhs === 0) return true;
      trsm(CBLAS_ROW_MAJOR, CBLAS_LEFT, CBLAS_LOWER, CBLAS_NO_TRANS, CBLAS_NON_UNIT, n, nrhs, 1, A, n, B, nrhs); // L·Y = B
      trsm(CBLAS_ROW_MAJOR, CBLAS_LEFT, CBLAS_LOWER, CBLAS_TRANS, CBLAS_NON_UNIT, n, nrhs, 1, A, n, B, nrhs); // Lᵀ·X = Y
      return true;
    },
  };
}

interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
type Koffi = KoffiApi;

/** A thread-count control of one BLAS family: a setter and, when the library has one, a getter. */
interface ThreadControl {
  set: (threads: number) => void;
  get: (() => number) | undefined;
}

function tryFunc(lib: KoffiLib, signature: string): ((...args: unknown[]) => unknown) | undefined {
  try {
    return lib.func(signature);
  } catch {
    return undefined;
  }
}

function threadControl(lib: KoffiLib): ThreadControl | undefined {
  const families: [string, string | undefined][] = [
    ["void openblas_set_num_threads(int)", "int openblas_get_num_threads()"],
    ["void bli_thread_set_num_threads(long)", "long bli_thread_get_num_threads()"],
    ["void MKL_Set_Num_Threads(int)", "int MKL_Get_Max_Threads()"],
  ];
  for (const [setSig, getSig] of families) {
    const set = tryFunc(lib, setSig);
    if (set === undefined) continue;
    const get = getSig === undefined ? undefined : tryFunc(lib, getSig);
    return { set: (t) => void set(t), get: get === undefined ? undefined : () => Number(get()) };
  }
  return undefined;
}

export class BlasBackend implements KernelBackend {
  readonly name = "blas" as const;
  /** the shared library that was loaded */
  readonly library: string;
  /** the library's own description of its build, when it has one (OpenBLAS: version and CPU kernel) */
  readonly config: string | undefined;
  readonly maxThreads: number;
  private readonly sgemm: Sgemm;
  /** Σ|x_i| over n floats: not finite exactly when one of them is NaN or ±∞ (or the sum overflows) */
  private readonly sasum: (n: number, x: Float32Array, incx: number) => number;
  /** float64 Cholesky solves, when the library has LAPACK's dpotrf (OpenBLAS, MKL) */
  readonly lapack: Lapack | undefined;
  private readonly threadCtl: ThreadControl | undefined;
  private threadCount: number;
  /** the thread count OpenBLAS is set to now (calls below parallelMinFlops set it to 1 while they run) */
  private libraryThreads: number;
  /** products below this many flops run on one thread (default BLAS_PARALLEL_MIN_FLOPS; settable for tests and sweeps) */
  parallelMinFlops = BLAS_PARALLEL_MIN_FLOPS;
  /** images of at most this many pixels convolve as row products (default ROWS_MAX_PIXELS; settable for tests and sweeps) */
  rowsMaxPixels = ROWS_MAX_PIXELS;
  /** floats of one block's rows in a row-product convolution (default ROWS_BLOCK_FLOATS; settable for tests and sweeps) */
  rowsBlockFloats = ROWS_BLOCK_FLOATS;
  /** the backend convolutions run on (the registry sets wasm when it loads; js otherwise) */
  convolutionBackend: KernelBackend = new JsBackend();

  /** where koffi was loaded from (the wasm worker loads it there too) */
  private readonly koffiPath: string | undefined;
  private readonly koffi: Koffi;
  /** oneDNN's convolutions: loaded on the first convolution (or the first ask), an Error saying why not when unavailable */
  private oneDnnState: OneDnn | Error | undefined;
  /** whether convolutions may go to oneDNN when it loads (MESA_ONEDNN=0 turns it off; settable for tests and benchmarks) */
  useOneDnn = process.env.MESA_ONEDNN?.trim() !== "0";

  private constructor(library: string, lib: KoffiLib, koffi: Koffi, koffiPath: string | undefined) {
    this.library = library;
    this.koffi = koffi;
    this.koffiPath = koffiPath;
    this.sgemm = lib.func(
      "void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, " +
        "const float *b, int ldb, float beta, float *c, int ldc)",
    ) as unknown as Sgemm;
    this.sasum = lib.func("float cblas_sasum(int n, const float *x, int incx)") as unknown as (n: number, x: Float32Array, incx: number) => number;
    const config = tryFunc(lib, "const char *openblas_get_config()");
    this.config = config === undefined ? undefined : String(config());
    this.threadCtl = threadControl(lib);
    this.lapack = loadLapack(lib, (flops) => this.useThreads(this.threadsFor(flops)));
    this.maxThreads = availableParallelism();
    // the library's own default (e.g. OPENBLAS_NUM_THREADS) stands until setThreads is called
    this.threadCount = this.threadCtl?.get?.() ?? this.maxThreads;
    this.libraryThreads = this.threadCount;
  }

  /** Loads koffi and the first CBLAS found; throws an Error whose message says why none could be used. */
  static load(): BlasBackend {
    let koffi: Koffi;
    let koffiPath: string | undefined;
    try {
      // synchronous, so kernels() can pick a backend without awaiting
      koffi = createRequire(import.meta.url)("koffi") as Koffi;
      koffiPath = createRequire(import.meta.url).resolve("koffi");
    } catch (err) {
      throw new Error(`the FFI package koffi could not be loaded: ${(err as Error).message}`);
    }
    const override = process.env.MESA_BLAS_LIB;
    const candidates = [...(override ? [override] : []), ...(CANDIDATES[process.platform] ?? [])];
    const tried: string[] = [];
    for (const name of candidates) {
      let lib: KoffiLib;
      try {
        lib = koffi.load(name);
      } catch {
        tried.push(name);
        continue;
      }
      if (tryFunc(lib, "void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)") === undefined) {
        tried.push(`${name} (no cblas_sgemm)`);
        continue;
      }
      // the generic names may be the unoptimised reference BLAS, which is slower than the wasm kernels
      if (GENERIC.has(name) && threadControl(lib) === undefined) {
        tried.push(`${name} (the reference BLAS, slower than wasm)`);
        continue;
      }
      return new BlasBackend(name, lib, koffi, koffiPath);
    }
    throw new Error(
      `no CBLAS library found (tried ${tried.join(", ") || "nothing for this platform"}); ` +
        "install one (Debian/Ubuntu: apt-get install libopenblas0-pthread) or point MESA_BLAS_LIB at one",
    );
  }

  get threads(): number {
    return this.threadCount;
  }

  /** oneDNN's convolution piece, loaded on first ask; undefined when it is unavailable or turned off (see oneDnnStatus). */
  get oneDnn(): OneDnn | undefined {
    if (!this.useOneDnn) return undefined;
    if (this.oneDnnState === undefined) {
      try {
        this.oneDnnState = OneDnn.load(this.koffi);
      } catch (err) {
        this.oneDnnState = err instanceof Error ? err : new Error(String(err));
      }
    }
    return this.oneDnnState instanceof OneDnn ? this.oneDnnState : undefined;
  }

  /** What convolutions run on: oneDNN and its version, or why not (shown by `mesa doctor`). */
  get oneDnnStatus(): string {
    if (!this.useOneDnn) return "convolutions: oneDNN turned off (MESA_ONEDNN=0)";
    const dnn = this.oneDnn;
    return dnn !== undefined ? `convolutions: oneDNN ${dnn.version} (${dnn.library}), one thread per caller` : `convolutions: no oneDNN (${(this.oneDnnState as Error).message})`;
  }

  /** oneDNN when it loads and builds primitives for this call's geometry (CONV_RULE in onednn.ts), else undefined. */
  private oneDnnFor(args: Conv2dArgs): OneDnn | undefined {
    const dnn = this.oneDnn;
    return dnn !== undefined && oneDnnTakes(args) && dnn.fits(args) ? dnn : undefined;
  }

  /** Sets the library's thread count when it exposes one (OpenBLAS, BLIS, MKL); Accelerate manages its own. */
  setThreads(threads: number): void {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    this.convolutionBackend.setThreads(threads);
    if (this.threadCtl === undefined) return;
    const t = Math.min(threads, this.maxThreads);
    this.threadCtl.set(t);
    this.threadCount = t;
    this.libraryThreads = t;
  }

  /**
   * The threads a product of `flops` flops runs on: all of the backend's from parallelMinFlops up, else one. A
   * function of the size and the thread count only, so a fixed thread count still repeats bit for bit (and products
   * below the threshold give the same bits at any thread count).
   */
  threadsFor(flops: number): number {
    return flops >= this.parallelMinFlops ? this.threadCount : 1;
  }

  /** The thread count the library itself reports now (undefined when it has no getter): what the last product ran on. */
  get libraryThreadCount(): number | undefined {
    return this.threadCtl?.get?.();
  }

  /** Sets OpenBLAS's thread count for the next call when it differs (a store in OpenBLAS, cheap). */
  private useThreads(threads: number): void {
    if (threads === this.libraryThreads || this.threadCtl === undefined) return;
    this.threadCtl.set(threads);
    this.libraryThreads = threads;
  }

  /** Whether the thread count can be set (false for Accelerate and plain reference CBLAS). */
  get threadsSettable(): boolean {
    return this.threadCtl !== undefined;
  }

  matmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void {
    const { m, n, k, transA, transB, batch, strideA, strideB, strideC, accumulate } = resolveMatmul(a, b, c, args);
    if (m === 0 || n === 0) return;
    if (batch > 1 && m * n * k <= SMALL_BATCHED_PRODUCT && this.convolutionBackend instanceof WasmBackend) {
      this.convolutionBackend.matmul(a, b, c, args);
      return;
    }
    // leading dimensions of the stored matrices; CBLAS requires ≥ 1 even when k = 0
    const lda = Math.max(1, transA ? m : k);
    const ldb = Math.max(1, transB ? k : n);
    const ta = transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const tb = transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const beta = accumulate ? 1 : 0;
    this.useThreads(this.threadsFor(2 * m * n * k));
    for (let t = 0; t < batch; t++) {
      // subarray views move the pointer; koffi passes each view's own start without copying
      const at = strideA === 0 || t === 0 ? a : a.subarray(t * strideA);
      const bt = strideB === 0 || t === 0 ? b : b.subarray(t * strideB);
      const ct = strideC === 0 || t === 0 ? c : c.subarray(t * strideC);
      this.sgemm(CBLAS_ROW_MAJOR, ta, tb, m, n, k, 1, at, lda, bt, ldb, beta, ct, n);
    }
  }

  conv2d(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs): void {
    const conv = this.convolutionBackend;
    const dnn = this.oneDnnFor(args);
    if (dnn !== undefined) dnn.conv2d(x, weight, bias, residual, y, args, this.densePasses);
    else if (denseConvFits(args, BLAS_DENSE_CONV_FACTOR)) denseConv2d(this.gemm, x, weight, bias, residual, y, args, this.densePasses);
    else if (rowsConvFits(args, this.rowsMaxPixels)) rowsConv2d(this.gemm, x, weight, bias, residual, y, args, this.rowPasses, this.isResident, this.rowsBlockFloats);
    else if (conv instanceof WasmBackend) conv.conv2dWithGemm(this.hostFor(conv), x, weight, bias, residual, y, args);
    else conv.conv2d(x, weight, bias, residual, y, args);
  }

  conv2dBackward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void {
    const conv = this.convolutionBackend;
    const dnn = this.oneDnnFor(args);
    if (dnn !== undefined) dnn.conv2dBackward(x, weight, y, gy, grads, args, this.densePasses);
    else if (denseConvFits(args, BLAS_DENSE_CONV_FACTOR)) denseConv2dBackward(this.gemm, x, weight, y, gy, grads, args, this.densePasses);
    else if (rowsConvFits(args, this.rowsMaxPixels)) rowsConv2dBackward(this.gemm, x, weight, y, gy, grads, args, this.rowPasses, this.densePasses, this.isResident, this.rowsBlockFloats);
    else if (conv instanceof WasmBackend) conv.conv2dBackwardWithGemm(this.hostFor(conv), x, weight, y, gy, grads, args);
    else conv.conv2dBackward(x, weight, y, gy, grads, args);
  }

  conv2dMaxPool(x: Float32Array, weight: Float32Array, bias: Float32Array | null, pooled: Float32Array, args: Conv2dArgs, pool: PoolWindow): ConvPoolState | null {
    const dnn = this.oneDnnFor(args);
    // oneDNN's max-pool passes over a NaN where ours (and PyTorch's) returns it: with a NaN or ±∞ among the inputs
    // (a diverged run) the caller runs the two ops instead, so NaN still propagates (one pass over the input, ~1% of
    // a CNN PPO step)
    const finite = (a: Float32Array, n: number): boolean => {
      this.useThreads(1);
      return Number.isFinite(this.sasum(n, a, 1));
    };
    if (dnn === undefined || !finite(x, args.n * args.c * args.h * args.w) || !finite(weight, args.o * args.c * args.kh * args.kw) || (bias !== null && !finite(bias, args.o))) return null;
    return dnn.convPool(x, weight, bias, pooled, args, pool);
  }

  conv2dMaxPoolBackward(state: ConvPoolState, x: Float32Array, weight: Float32Array, gPooled: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void {
    // the state comes from oneDNN's forward, so oneDNN is loaded (even if turned off since)
    (this.oneDnnState as OneDnn).convPoolBackward(state, x, weight, gPooled, grads, args, this.densePasses);
  }

  releaseConvPool(state: ConvPoolState): void {
    (this.oneDnnState as OneDnn).releaseConvPool(state);
  }

  private readonly gemm = (a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void => this.matmul(a, b, c, args);

  /**
   * This GEMM as the wasm convolutions' host GEMM; the wasm worker is told (before it starts) how to load the same
   * library, so convolution blocks run on both threads, each calling cblas_sgemm on one OpenBLAS thread.
   */
  hostFor(conv: WasmBackend): HostGemm {
    if (conv.hostGemmWorker === undefined && this.koffiPath !== undefined) conv.hostGemmWorker = { koffi: this.koffiPath, library: this.library };
    return this.host;
  }

  private readonly host: HostGemm = { gemm: this.gemm, threadsFor: (flops) => this.threadsFor(flops), oneThread: () => this.useThreads(1) };

  /** the row-product path's passes: the wasm kernels' SIMD ones when they load, else the js loops */
  private get rowPasses(): RowPasses {
    const conv = this.convolutionBackend;
    return conv instanceof WasmBackend ? conv.rowPasses : jsRowPasses;
  }

  /** whether an array lives where the row passes work in place (the wasm memory; any array for the js loops) */
  private readonly isResident = (a: Float32Array): boolean => {
    const conv = this.convolutionBackend;
    return conv instanceof WasmBackend ? conv.owns(a) : true;
  };

  /** the dense path's elementwise passes: the wasm kernels' SIMD ones when they load, else the js loops */
  get densePasses(): DensePasses {
    const conv = this.convolutionBackend;
    return conv instanceof WasmBackend ? conv.densePasses : jsDensePasses;
  }

  /** gated value iteration on grids: the wasm kernels' stencil when they load, else the js loops */
  get gatedGrid(): GatedGridPasses {
    const conv = this.convolutionBackend;
    return conv instanceof WasmBackend ? conv.gatedGrid : jsGatedGrid;
  }

  maxPool2d(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): void {
    this.convolutionBackend.maxPool2d(x, y, argmax, args);
  }

  maxPool2dBackward(gy: Float32Array, argmax: Int32Array, gx: Float32Array, len: number): void {
    this.convolutionBackend.maxPool2dBackward(gy, argmax, gx, len);
  }
}
