// The `wasm` kernel backend: the f32x4 SIMD GEMM and convolution of assembly/kernels.ts (built into
// dist/wasm/kernels.wasm), on one shared WebAssembly.Memory. Most tensors live in JS Float32Arrays, so a call
// copies its operands into a call area of that memory and its result out (a memcpy each; ~1% of a 1024³
// product); transient activations and their gradients (pool.ts, ResidentMemory) live in the memory itself, in
// blocks carved above the call area, and convolutions and max-pooling read and write those in place. Large
// products are cut into chunks — batch items, row blocks or column blocks, never along k — that the calling
// thread and one worker thread (sharing the memory) claim until none are left, so the call stays synchronous and
// a busy or sleeping worker only means the caller does more of the chunks. Every element is computed by the same
// instruction sequence however the work is cut, so the thread count never changes a result. Images of at most
// kh·kw pixels convolve as one dense product through the same GEMM (conv_dense.ts); larger convolutions are cut
// the same way: forward and input gradient by images, the filter gradient by column ranges of the filter (each
// summing all images in order).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { checkConv2d, checkPool2d, resolveMatmul, type ResolvedMatmul } from "./args.js";
import { type DensePasses, denseConv2d, denseConv2dBackward, denseConvFits } from "./conv_dense.js";
import type { RowPasses } from "./conv_rows.js";
import { type GatedGridPasses, gridStride } from "./gated_grid.js";
import { maxPool2dBackwardReference } from "./conv_js.js";
import type { ResidentMemory } from "../pool.js";
import type { Conv2dArgs, Conv2dGrads, KernelBackend, Matmul, MatmulArgs, Pool2dArgs } from "./types.js";

interface MatmulExports {
  scratchBytes(): number;
  controlBytes(): number;
  work(ctrl: number, scratch: number, thread: number): number;
  convDescriptorBytes(): number;
  convForward(desc: number, n0: number, n1: number, scratch: number, thread: number): void;
  convBackwardData(desc: number, n0: number, n1: number, scratch: number, thread: number): void;
  convBackwardFilter(desc: number, k0: number, k1: number, scratch: number, thread: number): void;
  convBackwardPrologue(desc: number): void;
  convEpilogue(desc: number, n0: number, count: number, t: number): void;
  convIm2col(desc: number, n0: number, count: number, cols: number): void;
  convCol2im(desc: number, n0: number, count: number, cols: number, thread: number): void;
  convGatherGrad(desc: number, n0: number, count: number, t: number): void;
  convTableBytes(k: number, l: number, wo: number, kw: number, same: number): number;
  convTable(desc: number): void;
  gradPrologue(gy: number, gz: number, y: number, gres: number, gb: number, n: number, o: number, l: number, relu: number): void;
  denseEpilogue(y: number, bias: number, res: number, n: number, o: number, l: number, relu: number): void;
  rectifyCopy(x: number, out: number, n: number): void;
  maskedAdd(out: number, g: number, x: number, n: number): void;
  headForward(y: number, ctx: number, cells: number, w: number, bias: number, maps: number, n: number, c: number, o: number, l: number): void;
  headBackward(gmaps: number, y: number, ctx: number, cells: number, w: number, hRow: number, gy: number, accumulate: number, gctx: number, gcells: number, gw: number, gbias: number, n: number, c: number, o: number, l: number): void;
  zeroFill(at: number, bytes: number): void;
  gatedGridForward(g: number, r: number, c: number, at: number, qAt: number, values: number, args: number, work: number, b: number, h: number, w: number, k: number): void;
  gatedGridBackward(gq: number, g: number, r: number, c: number, at: number, values: number, args: number, dR: number, dC: number, dG: number, work: number, b: number, h: number, w: number, k: number): void;
  rowsPad(x: number, n0: number, count: number, xt: number, c: number, h: number, w: number, ph: number, pw: number, relu: number): void;
  rowsIm2row(xt: number, rows: number, count: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, ho: number, wo: number): void;
  rowsEpilogue(t: number, y: number, bias: number, res: number, n0: number, count: number, o: number, l: number, relu: number): void;
  rowsGather(gz: number, n0: number, count: number, t: number, o: number, l: number): void;
  rowsRow2im(rows: number, gxt: number, count: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, ho: number, wo: number): void;
  rowsUnpadAdd(gxt: number, gx: number, x: number, n0: number, count: number, c: number, h: number, w: number, ph: number, pw: number): void;
  maxPool(x: number, y: number, arg: number, planes: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, ho: number, wo: number): void;
  maxPoolBackward(gy: number, arg: number, gx: number, len: number, gxLen: number): number;
  tileRows(): number;
  tileCols(): number;
  gemmBatch(
    a: number, b: number, c: number, m: number, n: number, k: number, flags: number,
    batchStart: number, batchEnd: number, strideA: number, strideB: number, strideC: number,
    rowStart: number, rowEnd: number, colStart: number, colEnd: number, scratch: number,
  ): void;
}

// The slice of the WebAssembly JS API used here (tsconfig's lib has no WebAssembly types under Node).
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const PAGE = 65536;
/** WebAssembly pages the module may grow to (matches --maximumMemory in scripts/build.mjs) */
const MAX_PAGES = 65536;
/**
 * Products below this many flops run on one thread. Measured on a quiet 2-core machine (load < 0.5), the RL-sized
 * training step (batch 2048, obs 162, 64-64 tanh, actor + critic) took 9.7–10.2 ms on one thread, 11.9–12.8 ms
 * with two threads from 2 MFLOP up, and 9.8–10.0 ms from 64 MFLOP up: its tall-skinny 17–42 MFLOP products
 * (2048 rows × 64 columns) ran slower on two threads about half the time (the worker's wake-up and repacking are
 * not repaid), while products from 64 MFLOP (256×512×256, 1024³: 1.75–1.8× faster) gain reliably.
 */
export const WASM_PARALLEL_MIN_FLOPS = 1 << 26;
/** Rows or columns per chunk: packing the other operand is repeated per chunk, ~5% of its work at 120. */
const CHUNK_SPAN = 120;
/** Batch items are grouped into chunks of at least this many flops, so claims stay cheap. */
const CHUNK_MIN_FLOPS = 1 << 18;
/** At most this many chunks per product (the claim word holds a 16-bit chunk index). */
const MAX_CHUNKS = 4096;

/** Axis codes of convolution jobs in the control block (assembly/kernels.ts work()). */
const AXIS_CONV_FORWARD = 3;
const AXIS_CONV_DATA = 4;
const AXIS_CONV_FILTER = 5;
/** Filter-gradient chunks are cut on multiples of this many filter columns (the GEMM's register tile width). */
const CONV_FILTER_TILE = 8;
// Descriptor slots (Int32 index) of a convolution call; assembly/kernels.ts documents them.
const D = { x: 0, w: 1, bias: 2, res: 3, y: 4, gz: 5, gx: 6, gw: 7, gb: 8, gres: 9, area: 10, areaBytes: 11, n: 12, c: 13, h: 14, wd: 15, o: 16, kh: 17, kw: 18, sh: 19, sw: 20, ph: 21, pw: 22, ho: 23, wo: 24, flags: 25, nb: 26, tab: 27 } as const;
/** Slots of the descriptor. */
const D_SLOTS = D.tab + 1;
/** Images per convolution block: about this many floats of im2col columns, so a block stays in L2. */
const CONV_BLOCK_FLOATS = 48 * 1024;
/**
 * The same with a host GEMM (the blas backend): blocks of 1 MiB of columns, products of ≥ 900 columns (OpenBLAS
 * runs ~60 GFLOP/s on the policy's 16–32-row products, against ~20 for the wasm GEMM). 4M-float blocks (the whole
 * minibatch in one product) measured 20–25% slower per layer (batch 512, fwd+bwd): their columns leave the caches.
 */
const HOST_GEMM_BLOCK_FLOATS = 256 << 10;
/**
 * Resident blocks (transient activations and their gradients living in this memory, see pool.ts): carved from
 * chunks of at least this size at the top of the memory, each with slack on both sides (the 3×3/2 max-pool reads
 * up to 16 bytes before its input and 28 past its last row), and at most RESIDENT_MAX_BYTES in all (beyond it the
 * pool hands out ordinary arrays: slower, never wrong).
 */
const RESIDENT_CHUNK_BYTES = 16 << 20;
const RESIDENT_SLACK = 32;
const RESIDENT_MAX_BYTES = 1 << 30;
const F_BIAS = 1;
const F_RELU_IN = 2;
const F_RELU_OUT = 4;
const F_RES = 8;

// Slots (Int32 index) of the control block in wasm memory; assembly/matmul.ts documents the layout.
const C_WORD = 0;
const C_DONE = 1;
const C_CHUNKS = 2;
const C_AXIS = 3;
const C_UNIT = 4;
const C_QUIT = 5;
const C_READY = 6;
const C_FAILED = 7;
const C_ARGS = 8;
/** the worker's host GEMM: 0 not (yet) loaded, 1 loaded, 2 failed to load */
const C_HOST = C_ARGS + 11;
/** Axis codes of the host's convolution-block jobs (forward; backward), from assembly/kernels.ts AXIS_HOST up. */
const AXIS_HOST_FORWARD = 8;
const AXIS_HOST_BACKWARD = 9;
/** Axis code of a max-pool cut into plane ranges (assembly/kernels.ts work()). */
const AXIS_POOL = 6;
/**
 * A max-pool runs on both threads from this many window elements (outputs × kh·kw): the minibatch's pools (512
 * images) are 6–12M, the rollout's (64) below 1.5M.
 */
export const POOL_PARALLEL_MIN_WINDOWS = 1 << 21;
/**
 * A convolution with the host's GEMM runs its blocks on both threads from this many flops (2·o·K·L per image and
 * GEMM): the rollout's batch of 64 images is 4–33 MFLOP per layer on maze-cheese.
 */
export const HOST_PARALLEL_MIN_FLOPS = 1 << 22;

/** The host's GEMM on byte offsets of the shared memory: c[m×n] = op(a)·op(b) + beta·c (row-major, as cblas_sgemm). */
type OffsetGemm = (a: number, b: number, c: number, m: number, n: number, k: number, transA: boolean, transB: boolean, beta: number) => void;

/** The convolution exports one block of a host job calls. */
type HostKernels = Pick<MatmulExports, "convIm2col" | "convEpilogue" | "convGatherGrad" | "convCol2im">;

/**
 * One block (`b`) of a host convolution job, on `thread`'s work area: forward, im2col → t = w·cols → the epilogue
 * writes y; backward, t = the block's output gradient, then the input gradient col2im(wᵀ·t) and this block's
 * filter-gradient partial t·colsᵀ (summed over blocks in order by the caller, so the thread that ran a block never
 * changes a bit). flags[b] records the parts done (1 data / forward, 2 filter), so a job the worker failed part-way
 * is finished without adding a part twice. `a`: the job's argument slots (desc, mode — 1 forward, else 2 | 4 for the
 * data and filter parts — K, L, o, images per block, images, the filter's offset, the partials', the flags'). Run by the caller and,
 * from its source text, by the worker: it must use nothing outside itself.
 */
export function hostConvBlock(kx: HostKernels, gemm: OffsetGemm, a: Int32Array, heap32: Int32Array, b: number, thread: number): void {
  const desc = a[0]!, forward = a[1]! === 1, K = a[2]!, L = a[3]!, o = a[4]!, nb = a[5]!, n = a[6]!, w = a[7]!, part = a[8]!;
  const n0 = b * nb;
  const count = Math.min(nb, n - n0);
  // this thread's work area: the descriptor's area slots (D.area, D.areaBytes)
  const cols = heap32[(desc >> 2) + 10]! + thread * heap32[(desc >> 2) + 11]!;
  const t = cols + K * nb * L * 4;
  // part: the filter-gradient partials [blocks, o, K] (backward); a[9]: the byte offset of the per-block flags
  const flagAt = (a[9]! >> 2) + b;
  const done = heap32[flagAt]!;
  if (forward) {
    if (done & 1) return;
    kx.convIm2col(desc, n0, count, cols);
    gemm(w, cols, t, o, count * L, K, false, false, 0);
    kx.convEpilogue(desc, n0, count, t);
    heap32[flagAt] = 1;
    return;
  }
  const wantData = (a[1]! & 2) !== 0, wantFilter = (a[1]! & 4) !== 0;
  kx.convGatherGrad(desc, n0, count, t);
  if (wantData && !(done & 1)) {
    gemm(w, t, cols, K, count * L, o, true, false, 0);
    kx.convCol2im(desc, n0, count, cols, thread);
    heap32[flagAt] = done | 1;
  }
  if (wantFilter && !(done & 2)) {
    kx.convIm2col(desc, n0, count, cols);
    gemm(t, cols, part + b * o * K * 4, o, K, count * L, false, true, 0);
    heap32[flagAt] = heap32[flagAt]! | 2;
  }
}

/**
 * Claims and runs blocks of the posted host job until none are left (the JavaScript twin of assembly work());
 * returns how many this thread ran. Self-contained for the same reason as hostConvBlock, which it is handed.
 */
export function hostWork(slots: Int32Array, heap32: () => Int32Array, run: (a: Int32Array, h: Int32Array, b: number) => void): number {
  let ran = 0;
  for (;;) {
    const word = Atomics.load(slots, 0);
    const chunk = word & 0xffff;
    if (chunk >= Atomics.load(slots, 2)) break;
    if (slots[3]! < 8) break; // not a host job (a stale read: the caller's next job is being written)
    // the arguments are read before the claim; a successful claim proves they belong to this job
    const args = slots.slice(8, 18);
    if (Atomics.compareExchange(slots, 0, word, word + 1) !== word) continue;
    run(args, heap32(), chunk);
    Atomics.add(slots, 1, 1);
    ran++;
  }
  return ran;
}

// The worker: instantiate the same module on the same memory, then sleep until a product is posted, help
// with its chunks, and sleep again. Inline (eval) so it runs the same from dist/ and from the TypeScript
// sources under vitest.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, ctrl, scratch, host } = workerData;
const kx = new WebAssembly.Instance(module, { env: { memory } }).exports;
const work = kx.work;
const slots = new Int32Array(memory.buffer, ctrl, ${C_HOST + 1});
// the host's GEMM (the blas backend's library through koffi), for convolution blocks on this thread too
let gemm;
if (host) {
  try {
    const lib = require(host.koffi).load(host.library);
    const sgemm = lib.func("void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, " +
      "const float *b, int ldb, float beta, float *c, int ldc)");
    const f32 = (at, len) => new Float32Array(memory.buffer, at, len);
    gemm = (a, b, c, m, n, k, ta, tb, beta) => sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1,
      f32(a, m * k), Math.max(1, ta ? m : k), f32(b, k * n), Math.max(1, tb ? k : n), beta, f32(c, m * n), n);
    Atomics.store(slots, ${C_HOST}, 1);
  } catch {
    Atomics.store(slots, ${C_HOST}, 2);
  }
}
const hostConvBlock = ${hostConvBlock.toString()};
const hostWork = ${hostWork.toString()};
let heap32 = new Int32Array(memory.buffer);
const heap = () => (heap32.length * 4 === memory.buffer.byteLength ? heap32 : (heap32 = new Int32Array(memory.buffer)));
const runBlock = (a, h, b) => hostConvBlock(kx, gemm, a, h, b, 1);
Atomics.store(slots, ${C_READY}, 1);
Atomics.notify(slots, ${C_READY});
for (;;) {
  const word = Atomics.load(slots, ${C_WORD});
  if (Atomics.load(slots, ${C_QUIT}) === 1) break;
  if ((word & 0xffff) >= Atomics.load(slots, ${C_CHUNKS})) {
    Atomics.wait(slots, ${C_WORD}, word);
    continue;
  }
  try {
    if (Atomics.load(slots, ${C_AXIS}) >= ${AXIS_HOST_FORWARD}) {
      if (gemm !== undefined) hostWork(slots, heap, runBlock);
      else Atomics.wait(slots, ${C_WORD}, word, 1); // never posted to a worker without the GEMM; do not spin
    } else work(ctrl, scratch, 1);
  } catch (err) {
    // cannot happen for validated calls; if it does, the caller redoes the product alone
    Atomics.store(slots, ${C_FAILED}, 1);
    Atomics.notify(slots, ${C_DONE});
    break;
  }
}
`;

/**
 * Writes a job into the control block, unpublished. The claim word is made unclaimable first (chunk index
 * 0xffff ≥ any chunk count): a thread may still be in its claim loop holding the previous job's final word, and
 * once C_CHUNKS grew past that word's chunk index it would pass the bounds check and win its compare-and-swap
 * on the stale word — computing a chunk from half-written arguments and adding one C_DONE too many, so the
 * poster's wait for C_DONE === chunks never ended (PPO runs hung for good with both threads in futex waits).
 * Exported for the test of that ordering.
 */
export function writeJob(ctrl: Int32Array, seq: number, [axis, unit, chunks]: readonly [number, number, number], args: readonly number[]): void {
  Atomics.store(ctrl, C_WORD, (seq << 16) | 0xffff);
  for (let i = 0; i < args.length; i++) ctrl[C_ARGS + i] = args[i]!;
  ctrl[C_AXIS] = axis;
  ctrl[C_UNIT] = unit;
  Atomics.store(ctrl, C_CHUNKS, chunks);
  Atomics.store(ctrl, C_DONE, 0);
}

/** Publishes the job writeJob wrote: chunk 0 of sequence number `seq` becomes claimable; wakes the worker. */
export function publishJob(ctrl: Int32Array, seq: number): void {
  Atomics.store(ctrl, C_WORD, seq << 16);
  Atomics.notify(ctrl, C_WORD, 1);
}

/** Control-block slots, for tests of the job protocol. */
export const CONTROL_SLOTS = { word: C_WORD, done: C_DONE, chunks: C_CHUNKS, args: C_ARGS } as const;

/** Where the build put the kernel module, from dist/src/core/kernels or from src/core/kernels. */
export function findWasm(file: string): string {
  const candidates = [new URL(`../../../wasm/${file}`, import.meta.url), new URL(`../../../dist/wasm/${file}`, import.meta.url)];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw new Error(`${file} not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(", ")}); run \`npm run build\``);
}

function align16(bytes: number): number {
  return (bytes + 15) & ~15;
}

/**
 * A host's GEMM for convolutions (the blas backend's): `gemm` on Float32Array views of this memory, the threads it
 * would run a product of `flops` flops on, and what the worker loads to run the very same GEMM itself.
 */
export interface HostGemm {
  gemm: Matmul;
  threadsFor(flops: number): number;
  /** sets the library to one thread now (before the worker may call it: both threads then call it at once) */
  oneThread(): void;
  worker?: { koffi: string; library: string };
}

/** Thrown inside a convolution when the worker failed part-way, so the caller redoes the job alone. */
class WorkerRetry extends Error {}

export class WasmBackend implements KernelBackend, ResidentMemory {
  readonly name = "wasm" as const;
  /** threads this backend can use: 2 when worker_threads and shared memory work, else 1 */
  readonly maxThreads: number;
  /** products below this many flops stay on one thread (default WASM_PARALLEL_MIN_FLOPS; settable for sweeps) */
  parallelMinFlops: number;
  /** im2col floats per block when a host GEMM runs the products (default HOST_GEMM_BLOCK_FLOATS; tests set it small) */
  hostGemmBlockFloats = HOST_GEMM_BLOCK_FLOATS;
  /** max-pools run on both threads from this many window elements (default POOL_PARALLEL_MIN_WINDOWS) */
  poolParallelMinWindows = POOL_PARALLEL_MIN_WINDOWS;
  /** convolutions with a host GEMM run their blocks on both threads from this many flops (default HOST_PARALLEL_MIN_FLOPS) */
  hostParallelMinFlops = HOST_PARALLEL_MIN_FLOPS;
  /**
   * What the worker loads to run a host's GEMM itself (the blas backend sets it before its first convolution); the
   * worker reads it when it starts, so a worker started before it was set runs no host convolution blocks.
   */
  hostGemmWorker: { koffi: string; library: string } | undefined;
  private requestedThreads: number;
  private readonly module: WasmModule;
  private readonly memory: WasmMemory;
  private readonly kernel: MatmulExports;
  private readonly tileRows: number;
  private readonly tileCols: number;
  /** byte offsets of the control block, of the main thread's and the worker's scratch areas, of the operands */
  private readonly ctrlOffset: number;
  private readonly scratch: readonly [number, number];
  /** the per-call operand area [callBase, callEnd): grows in place while it is topmost, else moves to the top */
  private callBase: number;
  private callEnd: number;
  private heap: Float32Array;
  /** resident blocks: free offsets by size in floats, the chunk being carved [bump, limit), bytes carved in all */
  private readonly residentFree = new Map<number, number[]>();
  private residentBump = 0;
  private residentLimit = 0;
  private residentBytes = 0;
  /** views acquire()/acquireIndices() handed out and not yet released, with their size in elements */
  private readonly residentViews = new WeakMap<Float32Array | Int32Array, number>();
  /** takes back the block of a view dropped without release, once the garbage collector frees the view */
  private readonly residentReaper = new FinalizationRegistry<readonly [number, number]>(([at, n]) => this.freeBlock(at, n));
  private readonly ctrl: Int32Array;
  private jobSeq = 0;
  private worker: Worker | undefined;
  private workerBroken: string | undefined;
  /** how parallel products went: products cut into chunks, chunks in all, chunks the worker ran */
  readonly stats = { parallelCalls: 0, chunks: 0, workerChunks: 0 };

  /** Loads and instantiates the kernels; throws (with the reason) where WebAssembly SIMD or threads are missing. */
  constructor(options: { threads?: number; parallelMinFlops?: number } = {}) {
    if (wasmApi === undefined) throw new Error("this JavaScript runtime has no WebAssembly");
    this.module = new wasmApi.Module(readFileSync(findWasm("kernels.wasm")));
    this.memory = new wasmApi.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const instance = new wasmApi.Instance(this.module, { env: { memory: this.memory } });
    this.kernel = instance.exports as unknown as MatmulExports;
    if (this.kernel.convDescriptorBytes() !== D_SLOTS * 4) {
      throw new Error(`kernels.wasm's convolution descriptor has ${this.kernel.convDescriptorBytes()} bytes, this host writes ${D_SLOTS * 4}; run \`npm run build\``);
    }
    this.tileRows = this.kernel.tileRows();
    this.tileCols = this.kernel.tileCols();
    // page 0 is left to the module's own static data (it has none today), then the control block and two
    // scratch areas; operands follow
    this.ctrlOffset = PAGE;
    const scratchBytes = align16(this.kernel.scratchBytes());
    const scratchStart = PAGE + align16(this.kernel.controlBytes());
    this.scratch = [scratchStart, scratchStart + scratchBytes];
    this.callBase = scratchStart + 2 * scratchBytes;
    this.memory.grow(Math.ceil(this.callBase / PAGE));
    this.callEnd = this.memory.buffer.byteLength;
    this.heap = new Float32Array(this.memory.buffer);
    this.ctrl = new Int32Array(this.memory.buffer, this.ctrlOffset, C_HOST + 1);
    this.maxThreads = 2;
    this.parallelMinFlops = options.parallelMinFlops ?? WASM_PARALLEL_MIN_FLOPS;
    this.requestedThreads = Math.min(options.threads ?? this.maxThreads, this.maxThreads);
  }

  get threads(): number {
    return this.workerBroken === undefined ? this.requestedThreads : 1;
  }

  /** Uses up to `threads` threads (1 or 2) for large products; results are identical either way. */
  setThreads(threads: number): void {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    this.requestedThreads = Math.min(threads, this.maxThreads);
  }

  /**
   * Starts the worker now and waits (up to timeoutMs) until it is ready, instead of on the first large product.
   * Returns undefined when two threads work, else the reason they do not.
   */
  startThreads(timeoutMs = 5000): string | undefined {
    const worker = this.ensureWorker();
    if (worker === undefined) return this.workerBroken;
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.ctrl, C_READY) !== 1) {
      const left = deadline - performance.now();
      if (left <= 0) return "the worker thread did not start in time";
      Atomics.wait(this.ctrl, C_READY, 0, Math.min(left, 50));
    }
    return undefined;
  }

  /** Stops the worker thread (tests and benchmarks; an idle worker never keeps a process alive anyway). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    Atomics.store(this.ctrl, C_QUIT, 1);
    Atomics.notify(this.ctrl, C_WORD);
    await worker.terminate();
    Atomics.store(this.ctrl, C_QUIT, 0);
    Atomics.store(this.ctrl, C_READY, 0);
  }

  matmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void {
    const r = resolveMatmul(a, b, c, args);
    if (r.batch === 0 || r.m === 0 || r.n === 0) return;
    // operand layout in the call area: A, B, C one after another, 16-byte aligned
    const aOff = this.callArea(align16(r.spanA * 4) + align16(r.spanB * 4) + r.spanC * 4);
    const bOff = aOff + align16(r.spanA * 4);
    const cOff = bOff + align16(r.spanB * 4);
    const heap = this.heap;
    if (r.k > 0) {
      heap.set(a.subarray(0, r.spanA), aOff >> 2);
      heap.set(b.subarray(0, r.spanB), bOff >> 2);
    }
    const overlapping = r.strideC < r.m * r.n;
    // C is read back whole, so it is copied in when accumulating, or when the batch leaves gaps in it
    const copyC = r.accumulate || (!overlapping && r.strideC > r.m * r.n);
    if (copyC) heap.set(c.subarray(0, r.spanC), cOff >> 2);
    if (!this.run(aOff, bOff, cOff, r, overlapping)) {
      // the worker failed part-way: start again from the caller's C on this thread alone
      if (copyC) heap.set(c.subarray(0, r.spanC), cOff >> 2);
      this.runSingle(aOff, bOff, cOff, r);
    }
    c.set(heap.subarray(cOff >> 2, (cOff >> 2) + r.spanC));
  }

  /** matmul as a function value (the dense small-image convolution calls it) */
  private readonly gemm = (a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void => this.matmul(a, b, c, args);

  private runSingle(aOff: number, bOff: number, cOff: number, r: ResolvedMatmul): void {
    const flags = (r.transA ? 1 : 0) | (r.transB ? 2 : 0) | (r.accumulate ? 4 : 0);
    this.kernel.gemmBatch(aOff, bOff, cOff, r.m, r.n, r.k, flags, 0, r.batch, r.strideA, r.strideB, r.strideC, 0, r.m, 0, r.n, this.scratch[0]);
  }

  /** Computes the product, on two threads when it is large enough; false if the worker failed part-way. */
  private run(aOff: number, bOff: number, cOff: number, r: ResolvedMatmul, overlapping: boolean): boolean {
    const flops = 2 * r.m * r.n * r.k * r.batch;
    const plan = this.threads > 1 && flops >= this.parallelMinFlops ? this.chunking(r, overlapping) : undefined;
    const worker = plan === undefined ? undefined : this.ensureWorker();
    if (plan === undefined || worker === undefined) {
      this.runSingle(aOff, bOff, cOff, r);
      return true;
    }
    const flags = (r.transA ? 1 : 0) | (r.transB ? 2 : 0) | (r.accumulate ? 4 : 0);
    return this.post(plan, [aOff, bOff, cOff, r.m, r.n, r.k, flags, r.batch, r.strideA, r.strideB, r.strideC]);
  }

  /**
   * Posts a job ([axis, chunk length, chunk count] and its 11 argument slots), runs chunks on this thread until
   * none are left and waits for the worker's last one; false if the worker failed part-way.
   */
  private post([axis, unit, chunks]: [number, number, number], args: readonly number[], runMine?: () => number): boolean {
    const ctrl = this.ctrl;
    this.jobSeq = (this.jobSeq + 1) & 0x7fff;
    writeJob(ctrl, this.jobSeq, [axis, unit, chunks], args);
    publishJob(ctrl, this.jobSeq);
    const mine = runMine === undefined ? this.kernel.work(this.ctrlOffset, this.scratch[0], 0) : runMine();
    // the worker may still be finishing a chunk it claimed; wait for it (spin first: chunks are short)
    for (let spin = 0; ; spin++) {
      const done = Atomics.load(ctrl, C_DONE);
      if (done === chunks) break;
      if (Atomics.load(ctrl, C_FAILED) === 1) {
        this.workerBroken = "the worker thread failed a kernel call";
        return false;
      }
      if (spin > 1000) Atomics.wait(ctrl, C_DONE, done, 1);
    }
    this.stats.parallelCalls++;
    this.stats.chunks += chunks;
    this.stats.workerChunks += chunks - mine;
    return true;
  }

  /** Splits `len` (images or filter columns) into an even number of near-equal chunks on `tile` multiples. */
  private static evenChunks(axis: number, len: number, tile: number): [number, number, number] | undefined {
    const count = Math.min(MAX_CHUNKS, Math.max(2, Math.ceil(len / Math.max(tile, 1) / 8) * 2));
    const unit = Math.ceil(len / count / tile) * tile;
    const chunks = Math.ceil(len / unit);
    return chunks >= 2 ? [axis, unit, chunks] : undefined;
  }

  /**
   * Lays out a convolution in the call area — its descriptor, then the operands not already resident in this
   * memory (each at a 16-byte boundary, copied in when flagged), the per-thread work areas and the gather table —
   * and returns the descriptor's byte offset and the offsets of the operands, in order (resident ones where they
   * live, 0 for null ones). `inPlace` false copies even resident operands (a job that may need their old values).
   */
  private convLayout(
    args: Conv2dArgs, ho: number, wo: number, operands: readonly (readonly [Float32Array | null, number, boolean, boolean?])[], blockFloats: number,
    extraBytes: (blocks: number) => number = () => 0,
  ): { desc: number; offs: number[]; blocks: number; nb: number; extra: number } {
    // offsets relative to the call area's base first: the base is known once the size is
    let at = align16(this.kernel.convDescriptorBytes());
    const rel: number[] = [];
    for (const [arr, len, , inPlace] of operands) {
      if (arr === null || (inPlace !== false && this.residentViews.has(arr))) {
        rel.push(-1);
        continue;
      }
      rel.push(at);
      at += align16(len * 4);
    }
    // per-thread work areas: one block's columns [K, nb·L], its GEMM output [O, nb·L] and 16 bytes of trash
    // (col2im's padding writes); then 16 zero bytes and the gather table of small images or the column masks of a
    // "same" convolution (shared, read-only)
    const L = ho * wo;
    const same = args.strideH === 1 && args.strideW === 1 && ho === args.h && wo === args.w;
    const K = args.c * args.kh * args.kw;
    const nb = Math.max(1, Math.min(args.n, Math.floor(blockFloats / Math.max(1, K * L))));
    const areaBytes = align16((K + args.o) * nb * L * 4) + 16;
    const tableBytes = this.kernel.convTableBytes(K, L, wo, args.kw, same ? 1 : 0);
    const blocks = Math.ceil(args.n / nb);
    const extraAt = align16(at + 2 * areaBytes + 16 + tableBytes);
    const desc = this.callArea(extraAt + extraBytes(blocks));
    const area = desc + at;
    const tab = area + 2 * areaBytes + 16;
    new Int32Array(this.memory.buffer, tab - 16, 4).fill(0);
    const offs = this.placeOperands(operands, rel, desc);
    const d = new Int32Array(this.memory.buffer, desc, D_SLOTS);
    d.fill(0);
    d[D.area] = area;
    d[D.areaBytes] = areaBytes;
    d[D.nb] = nb;
    d[D.n] = args.n; d[D.c] = args.c; d[D.h] = args.h; d[D.wd] = args.w; d[D.o] = args.o;
    d[D.kh] = args.kh; d[D.kw] = args.kw; d[D.sh] = args.strideH; d[D.sw] = args.strideW; d[D.ph] = args.padH; d[D.pw] = args.padW;
    d[D.ho] = ho; d[D.wo] = wo;
    d[D.tab] = tab;
    this.kernel.convTable(desc);
    return { desc, offs, blocks, nb, extra: desc + extraAt };
  }

  /** Runs a convolution job over [0, len) on two threads when it is large enough, else on this one. */
  private runConv(axis: number, desc: number, len: number, flops: number, single: (from: number, to: number) => void): void {
    const plan = this.threads > 1 && flops >= this.parallelMinFlops ? WasmBackend.evenChunks(axis, len, axis === AXIS_CONV_FILTER ? CONV_FILTER_TILE : 1) : undefined;
    if (plan !== undefined && this.ensureWorker() !== undefined) {
      const args = [desc, 0, 0, 0, 0, 0, 0, len, 0, 0, 0];
      if (this.post(plan, args)) return;
      // the worker failed part-way: the job's outputs are redone below from scratch by the caller
      throw new WorkerRetry();
    }
    single(0, len);
  }

  conv2d(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs): void {
    if (denseConvFits(args, 1)) return denseConv2d(this.gemm, x, weight, bias, residual, y, args, this.densePasses);
    this.convolve(undefined, x, weight, bias, residual, y, args);
  }

  conv2dBackward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void {
    if (denseConvFits(args, 1)) return denseConv2dBackward(this.gemm, x, weight, y, gy, grads, args, this.densePasses);
    this.convolveBackward(undefined, x, weight, y, gy, grads, args);
  }

  /**
   * conv2d by im2col with the GEMMs on `gemm`, called on Float32Array views of this backend's memory (im2col, the
   * epilogue and col2im stay in wasm): the blas backend's convolutions. Blocks are large (a few per layer), so
   * each GEMM is large; results repeat for a given `gemm` and its thread count.
   */
  conv2dWithGemm(host: HostGemm, x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs): void {
    this.convolve(host, x, weight, bias, residual, y, args);
  }

  /** conv2dBackward with the GEMMs on the host's (see conv2dWithGemm). */
  conv2dBackwardWithGemm(host: HostGemm, x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void {
    this.convolveBackward(host, x, weight, y, gy, grads, args);
  }

  /**
   * Runs the blocks of a host convolution job (args: see hostConvBlock; its flags zeroed by the caller): on both
   * threads — each claiming blocks, each with the host's GEMM on one thread — when the backend has two, the job
   * has ≥ hostParallelMinFlops and the host would run a block's product on one thread anyway; else every block on
   * this thread. A block is computed the same way whichever thread runs it, so the bits never depend on this.
   */
  private runHostBlocks(host: HostGemm, axis: number, args: readonly number[], blocks: number, blockFlops: number, flops: number): void {
    const gemm: OffsetGemm = (a, b, c, m, n, k, transA, transB, beta) =>
      host.gemm(this.view(a, m * k), this.view(b, k * n), this.view(c, m * n), { m, n, k, transA, transB, accumulate: beta === 1 });
    const heap32 = (): Int32Array => new Int32Array(this.memory.buffer);
    const argv = Int32Array.from(args);
    const run = (a: Int32Array, h: Int32Array, b: number): void => hostConvBlock(this.kernel, gemm, a, h, b, 0);
    const parallel = this.threads > 1 && blocks >= 2 && flops >= this.hostParallelMinFlops && host.threadsFor(blockFlops) === 1 &&
      this.ensureWorker() !== undefined && Atomics.load(this.ctrl, C_HOST) === 1;
    // the worker failed part-way: the blocks (and parts) it did not finish are run below, by their flags
    if (parallel) host.oneThread();
    if (parallel && this.post([axis, 1, blocks], args, () => hostWork(this.ctrl, heap32, run))) return;
    const h = heap32();
    for (let b = 0; b < blocks; b++) run(argv, h, b);
  }

  /** A Float32Array view of `len` floats of this backend's memory at byte offset `at`. */
  private view(at: number, len: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, len);
  }

  private convolve(
    hostGemm: HostGemm | undefined, x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs,
  ): void {
    const [ho, wo] = checkConv2d(x, weight, bias, residual, y, args);
    const { n, c, h, w, o, kh, kw } = args;
    const outLen = n * o * ho * wo;
    if (outLen === 0) return;
    const lay = this.convLayout(args, ho, wo, [
      [x, n * c * h * w, true], [weight, o * c * kh * kw, true], [bias, o, true], [residual, outLen, true], [y, outLen, false],
    ], hostGemm === undefined ? CONV_BLOCK_FLOATS : this.hostGemmBlockFloats, (blocks) => blocks * 4);
    const [xo, wOff, bo, ro, yo] = lay.offs as [number, number, number, number, number];
    const d = new Int32Array(this.memory.buffer, lay.desc, D_SLOTS);
    d[D.x] = xo; d[D.w] = wOff; d[D.bias] = bo; d[D.res] = ro; d[D.y] = yo;
    d[D.flags] = (bias ? F_BIAS : 0) | (args.reluInput ? F_RELU_IN : 0) | (args.relu ? F_RELU_OUT : 0) | (residual ? F_RES : 0);
    const K = c * kh * kw;
    const L = ho * wo;
    if (hostGemm !== undefined) {
      // per block: im2col → cols [K, nb·L], t [o, nb·L] = w·cols on the host's GEMM, the epilogue writes y
      new Int32Array(this.memory.buffer, lay.extra, lay.blocks).fill(0);
      this.runHostBlocks(hostGemm, AXIS_HOST_FORWARD, [lay.desc, 1, K, L, o, lay.nb, n, wOff, 0, lay.extra], lay.blocks, 2 * o * K * lay.nb * L, 2 * outLen * K);
    } else {
      const flops = 2 * outLen * K;
      const single = (from: number, to: number): void => this.kernel.convForward(lay.desc, from, to, this.scratch[0], 0);
      try {
        this.runConv(AXIS_CONV_FORWARD, lay.desc, lay.blocks, flops, single);
      } catch (err) {
        if (!(err instanceof WorkerRetry)) throw err;
        single(0, lay.blocks); // every image's output is overwritten, so redoing all of them is exact
      }
    }
    if (!(yo === y.byteOffset && this.residentViews.has(y))) y.set(this.heap.subarray(yo >> 2, (yo >> 2) + outLen));
  }

  private convolveBackward(
    hostGemm: HostGemm | undefined, x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs,
  ): void {
    const [ho, wo] = checkConv2d(x, weight, grads.bias, grads.residual, y, args);
    const { n, c, h, w, o, kh, kw } = args;
    const inLen = n * c * h * w;
    const outLen = n * o * ho * wo;
    const wLen = o * c * kh * kw;
    if (outLen === 0) return;
    if (gy.length < outLen) throw new RangeError(`conv2d backward: the output gradient has ${gy.length} elements, the call needs ${outLen}`);
    if (grads.x !== null && grads.x.length < inLen) throw new RangeError(`conv2d backward: the input gradient has ${grads.x.length} elements, needs ${inLen}`);
    if (grads.weight !== null && grads.weight.length < wLen) throw new RangeError(`conv2d backward: the filter gradient has ${grads.weight.length} elements, needs ${wLen}`);
    const needX = grads.weight !== null || (grads.x !== null && args.reluInput);
    // a resident input gradient is accumulated in place, except when a worker may fail part-way through it (the
    // retry starts again from its old values, so those must stay untouched in the caller's array)
    const gxInPlace = hostGemm !== undefined || this.threads === 1;
    const lay = this.convLayout(args, ho, wo, [
      [needX ? x : null, inLen, true], [grads.x !== null ? weight : null, wLen, true], [args.relu ? y : null, outLen, true], [gy, outLen, true],
      [grads.x, inLen, true, gxInPlace], [grads.weight, wLen, true], [grads.bias, o, true], [grads.residual, outLen, true],
    ], hostGemm === undefined ? CONV_BLOCK_FLOATS : this.hostGemmBlockFloats, (blocks) => align16(blocks * 4) + (grads.weight !== null ? blocks * wLen * 4 : 0));
    const [xo, wOff, yo, gzo, gxo, gwo, gbo, gro] = lay.offs as [number, number, number, number, number, number, number, number];
    const d = new Int32Array(this.memory.buffer, lay.desc, D_SLOTS);
    d[D.x] = xo; d[D.w] = wOff; d[D.y] = yo; d[D.gz] = gzo; d[D.gx] = gxo; d[D.gw] = gwo; d[D.gb] = gbo; d[D.gres] = gro;
    d[D.flags] = (args.reluInput ? F_RELU_IN : 0) | (args.relu ? F_RELU_OUT : 0);
    this.kernel.convBackwardPrologue(lay.desc);
    const heap = this.heap;
    const K = c * kh * kw;
    const L = ho * wo;
    if (hostGemm !== undefined) {
      // per block: t [o, nb·L] = the output gradient; input gradient col2im(wᵀ·t); the block's filter-gradient
      // partial t·colsᵀ, then the partials added to the filter gradient in block order
      const part = lay.extra + align16(lay.blocks * 4);
      new Int32Array(this.memory.buffer, lay.extra, lay.blocks).fill(0);
      const mode = (grads.x !== null ? 2 : 0) | (grads.weight !== null ? 4 : 0);
      const gemms = (grads.x !== null ? 1 : 0) + (grads.weight !== null ? 1 : 0);
      this.runHostBlocks(hostGemm, AXIS_HOST_BACKWARD, [lay.desc, mode, K, L, o, lay.nb, n, wOff, part, lay.extra], lay.blocks, 2 * o * K * lay.nb * L, 2 * outLen * K * gemms);
      if (grads.weight !== null) {
        const g = gwo >> 2;
        for (let b = 0; b < lay.blocks; b++) {
          const p = (part >> 2) + b * wLen;
          for (let i = 0; i < wLen; i++) heap[g + i]! += heap[p + i]!;
        }
      }
    } else {
      const flops = 2 * outLen * K;
      if (grads.x !== null) {
        const single = (from: number, to: number): void => this.kernel.convBackwardData(lay.desc, from, to, this.scratch[0], 0);
        try {
          this.runConv(AXIS_CONV_DATA, lay.desc, lay.blocks, flops, single);
        } catch (err) {
          if (!(err instanceof WorkerRetry)) throw err;
          heap.set(grads.x.subarray(0, inLen), gxo >> 2); // start the accumulation again from the caller's values
          single(0, lay.blocks);
        }
      }
      if (grads.weight !== null) {
        const single = (from: number, to: number): void => this.kernel.convBackwardFilter(lay.desc, from, to, this.scratch[0], 0);
        try {
          this.runConv(AXIS_CONV_FILTER, lay.desc, K, flops, single);
        } catch (err) {
          if (!(err instanceof WorkerRetry)) throw err;
          heap.set(grads.weight.subarray(0, wLen), gwo >> 2);
          single(0, K);
        }
      }
    }
    // results computed in the call area go back to the caller's arrays; resident ones were written in place
    const back = (to: Float32Array | null, at: number, len: number): void => {
      if (to !== null && !(at === to.byteOffset && this.residentViews.has(to))) to.set(heap.subarray(at >> 2, (at >> 2) + len));
    };
    back(grads.x, gxo, inLen);
    back(grads.weight, gwo, wLen);
    back(grads.bias, gbo, o);
    back(grads.residual, gro, outLen);
  }

  /**
   * How to cut a product into chunks — [axis (0 batch, 1 rows, 2 columns), chunk length, chunk count] — or
   * undefined when it should not be cut. Batch items when there are several and their outputs do not overlap;
   * else row blocks (each repacks B) when m ≥ n, column blocks (each repacks A) otherwise.
   */
  private chunking(r: ResolvedMatmul, overlapping: boolean): [number, number, number] | undefined {
    // outputs that partly overlap (0 < strideC < m·n) put one element in different tiles of different items
    if (overlapping && r.strideC !== 0 && r.batch > 1) return undefined;
    // `len` cut into an even number of near-equal chunks of at most ~maxUnit (tile-aligned), so two threads
    // finish together; never more than MAX_CHUNKS (the claim word holds a 16-bit chunk index)
    const plan = (axis: number, len: number, maxUnit: number, tile: number): [number, number, number] | undefined => {
      let count = Math.max(2, Math.ceil(len / maxUnit));
      count = Math.min(MAX_CHUNKS, count + (count % 2));
      const unit = Math.ceil(len / count / tile) * tile;
      const chunks = Math.ceil(len / unit);
      return chunks >= 2 ? [axis, unit, chunks] : undefined;
    };
    if (r.batch >= 2 && !overlapping) {
      const itemFlops = 2 * r.m * r.n * r.k;
      return plan(0, r.batch, Math.max(1, Math.ceil(CHUNK_MIN_FLOPS / Math.max(1, itemFlops))), 1);
    }
    const byRows = (): [number, number, number] | undefined => plan(1, r.m, CHUNK_SPAN, this.tileRows);
    const byCols = (): [number, number, number] | undefined => plan(2, r.n, CHUNK_SPAN, this.tileCols);
    return r.m >= r.n ? (byRows() ?? byCols()) : (byCols() ?? byRows());
  }



  maxPool2d(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): void {
    const [ho, wo] = checkPool2d(x, y, argmax, args);
    const inLen = args.planes * args.h * args.w;
    const outLen = args.planes * ho * wo;
    if (outLen === 0) return;
    // the 3×3 stride-2 kernel reads up to 16 bytes before x and 28 past its last row: slack on both sides (resident
    // blocks have their own); resident x, y and argmax are read and written where they live
    const xIn = this.residentViews.has(x);
    const yIn = this.residentViews.has(y);
    const base = this.callArea(16 + align16(inLen * 4) + 32 + align16(outLen * 4) + outLen * 4);
    const xo = xIn ? x.byteOffset : base + 16;
    const yo = yIn ? y.byteOffset : base + 16 + align16(inLen * 4) + 32;
    const aIn = this.residentViews.has(argmax);
    const ao = aIn ? argmax.byteOffset : base + 16 + align16(inLen * 4) + 32 + align16(outLen * 4);
    if (!xIn) this.heap.set(x.subarray(0, inLen), xo >> 2);
    // on both threads by plane ranges when large (each output is computed alike either way: the same bits)
    const packable = Math.max(args.kh, args.kw, args.strideH, args.strideW) < 256 && Math.max(args.padH, args.padW) < 65536;
    const plan = this.threads > 1 && packable && outLen * args.kh * args.kw >= this.poolParallelMinWindows ? WasmBackend.evenChunks(AXIS_POOL, args.planes, 1) : undefined;
    const posted = plan !== undefined && this.ensureWorker() !== undefined && this.post(plan, [
      xo, yo, ao, args.planes, args.h, args.w, args.kh | (args.kw << 8) | (args.strideH << 16) | (args.strideW << 24), args.padH | (args.padW << 16), ho, wo,
    ]);
    // (a worker failed part-way: every output is written again here)
    if (!posted) this.kernel.maxPool(xo, yo, ao, args.planes, args.h, args.w, args.kh, args.kw, args.strideH, args.strideW, args.padH, args.padW, ho, wo);
    if (!yIn) y.set(this.heap.subarray(yo >> 2, (yo >> 2) + outLen));
    if (!aIn) argmax.set(new Int32Array(this.memory.buffer, ao, outLen));
  }

  /**
   * gx[argmax[i]] += gy[i]: in wasm when all three live in this memory (the policy's transient activations: no
   * copies), else the reference loop (copying them in and out would cost more than the scatter itself).
   */
  maxPool2dBackward(gy: Float32Array, argmax: Int32Array, gx: Float32Array, len: number): void {
    const views = this.residentViews;
    if (len === 0 || !(views.has(gy) && views.has(argmax) && views.has(gx)) || gy.length < len || argmax.length < len) {
      maxPool2dBackwardReference(gy, argmax, gx, len);
      return;
    }
    const bad = this.kernel.maxPoolBackward(gy.byteOffset, argmax.byteOffset, gx.byteOffset, len, gx.length);
    if (bad >= 0) throw new RangeError(`maxPool2d backward: argmax[${bad}] is outside the input gradient (${gx.length} elements)`);
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker !== undefined || this.workerBroken !== undefined) return this.worker;
    try {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, ctrl: this.ctrlOffset, scratch: this.scratch[1], host: this.hostGemmWorker },
      });
      worker.unref(); // an idle worker must never keep the process alive
      worker.on("error", (err) => {
        this.workerBroken = `the worker thread failed: ${err.message}`;
        this.worker = undefined;
      });
      this.worker = worker;
    } catch (err) {
      this.workerBroken = `worker_threads unavailable: ${(err as Error).message}`;
    }
    return this.worker;
  }

  /**
   * The base of a call area of `bytes` bytes for one kernel call's operands and work space. The area grows in
   * place while it is the topmost region; once resident blocks lie above it, a larger one is taken at the top
   * (the old one is left unused), so the call area and resident blocks never overlap.
   */
  private callArea(bytes: number): number {
    if (this.callBase + bytes <= this.callEnd) return this.callBase;
    if (this.callEnd !== this.memory.buffer.byteLength) {
      bytes = Math.max(bytes, Math.ceil((this.callEnd - this.callBase) * 1.5));
      this.callBase = this.memory.buffer.byteLength;
    }
    this.reserve(this.callBase + bytes);
    this.callEnd = this.memory.buffer.byteLength;
    return this.callBase;
  }

  /**
   * The byte offsets of operands laid out at base + rel[i] (rel[i] < 0: resident, where it lives; null: 0), each
   * copied in when its third field says so.
   */
  private placeOperands(operands: readonly (readonly [Float32Array | null, number, boolean, boolean?])[], rel: readonly number[], base: number): number[] {
    const heap = this.heap;
    return operands.map(([arr, len, copyIn], i) => {
      if (arr === null) return 0;
      if (rel[i]! < 0) return arr.byteOffset;
      if (copyIn) heap.set(arr.subarray(0, len), (base + rel[i]!) >> 2);
      return base + rel[i]!;
    });
  }

  /**
   * Runs `run` on the byte offsets of `operands` ([array, length, read, written]) in this memory: resident arrays
   * where they live, others copied into the call area (in when read, back out when written); null gives 0.
   */
  private withOperands(operands: readonly (readonly [Float32Array | null, number, boolean, boolean])[], run: (offs: number[]) => void): void {
    let at = 0;
    const rel = operands.map(([arr, len]) => {
      if (arr === null || this.residentViews.has(arr)) return -1;
      const r = at;
      at += align16(len * 4);
      return r;
    });
    const base = at > 0 ? this.callArea(at) : 0;
    run(this.placeOperands(operands, rel, base));
    operands.forEach(([arr, len, , written], i) => {
      if (arr !== null && written && rel[i]! >= 0) arr.set(this.heap.subarray((base + rel[i]!) >> 2, ((base + rel[i]!) >> 2) + len));
    });
  }

  /** The dense small-image convolution's elementwise passes in WebAssembly SIMD (see conv_dense.ts DensePasses). */
  readonly densePasses: DensePasses = {
    epilogue: (y, bias, residual, relu, n, o, l) => {
      const len = n * o * l;
      this.withOperands([[y, len, true, true], [bias, o, true, false], [residual, len, true, false]], ([yo, bo, ro]) =>
        this.kernel.denseEpilogue(yo!, bo!, ro!, n, o, l, relu ? 1 : 0));
    },
    gradPrologue: (gy, gz, y, gres, gb, relu, n, o, l) => {
      const len = n * o * l;
      const inPlace = gz === gy;
      this.withOperands([
        [gy, len, true, false], [inPlace ? null : gz, len, false, relu], [relu ? y : null, len, true, false], [gres, len, true, true], [gb, o, true, true],
      ], ([gyo, gzo, yo, ro, bo]) => this.kernel.gradPrologue(gyo!, inPlace ? gyo! : gzo!, yo!, ro!, bo!, n, o, l, relu ? 1 : 0));
    },
    rectifyCopy: (x, out, len) => {
      this.withOperands([[x, len, true, false], [out, len, false, true]], ([xo, oo]) => this.kernel.rectifyCopy(xo!, oo!, len));
    },
    maskedAdd: (out, g, x, len) => {
      this.withOperands([[out, len, true, true], [g, len, true, false], [x, len, true, false]], ([oo, go, xo]) => this.kernel.maskedAdd(oo!, go!, xo!, len));
    },
    headForward: (y, ctx, cells, w, bias, maps, n, c, o, l) => {
      this.withOperands([[y, n * c * l, true, false], [ctx, n * c, true, false], [cells, c * l, true, false], [w, o * c, true, false], [bias, o, true, false], [maps, n * o * l, false, true]], ([yo, xo, co, wo, bo, mo]) =>
        this.kernel.headForward(yo!, xo!, co!, wo!, bo!, mo!, n, c, o, l));
    },
    headBackward: (gmaps, y, ctx, cells, w, gy, accumulate, gctx, gcells, gw, gbias, n, c, o, l) => {
      this.withOperands([
        [gmaps, n * o * l, true, false], [y, n * c * l, true, false], [ctx, n * c, true, false], [cells, c * l, true, false], [w, o * c, true, false],
        [new Float32Array(l), l, false, false], [gy, n * c * l, accumulate, true], [gctx, n * c, true, true], [gcells, c * l, true, true], [gw, o * c, true, true], [gbias, o, true, true],
      ], ([go, yo, xo, co, wo, ho, gyo, gxo, gco, gwo, gbo]) =>
        this.kernel.headBackward(go!, yo!, xo!, co!, wo!, ho!, gyo!, accumulate ? 1 : 0, gxo!, gco!, gwo!, gbo!, n, c, o, l));
    },
  };

  /** Gated value iteration's backups on grids in WebAssembly (gated_grid.ts): values and args in place when resident. */
  readonly gatedGrid: GatedGridPasses = {
    forward: (g, r, c, at, qAt, values, args, B, H, W, K) => {
      const n = B * H * W;
      const PS = gridStride(H, W);
      const agents = new Float32Array(at.buffer, at.byteOffset, B); // int32 bits, copied as they are
      const vLen = args === null ? B * PS : B * K * PS;
      this.withOperands([
        [g, n, true, false], [r, n, true, false], [c, n, true, false], [agents, B, true, false], [qAt, B * 5, false, true],
        [values, vLen, false, true], [args, (B * K * PS + 3) >> 2, false, true], [new Float32Array(10 * PS), 10 * PS, false, false],
      ], ([go, ro, co, ao, qo, vo, argo, wo]) => this.kernel.gatedGridForward(go!, ro!, co!, ao!, qo!, vo!, argo!, wo!, B, H, W, K));
    },
    backward: (gq, g, r, c, at, values, args, dR, dC, dG, B, H, W, K) => {
      const n = B * H * W;
      const PS = gridStride(H, W);
      const agents = new Float32Array(at.buffer, at.byteOffset, B);
      this.withOperands([
        [gq, B * 5, true, false], [g, n, true, false], [r, n, true, false], [c, n, true, false], [agents, B, true, false],
        [values, B * K * PS, true, false], [args, (B * K * PS + 3) >> 2, true, false],
        [dR, n, true, true], [dC, n, true, true], [dG, n, true, true], [new Float32Array(6 * PS), 6 * PS, false, false],
      ], ([qo, go, ro, co, ao, vo, argo, dro, dco, dgo, wo]) => this.kernel.gatedGridBackward(qo!, go!, ro!, co!, ao!, vo!, argo!, dro!, dco!, dgo!, wo!, B, H, W, K));
    },
  };

  /**
   * The row-product convolution's passes in WebAssembly SIMD (see conv_rows.ts RowPasses): on resident arrays in
   * place (rowsConv2d makes the large ones resident), others through the call area.
   */
  readonly rowPasses: RowPasses = {
    pad: (x, n0, count, xt, g, relu) => {
      const len = (n0 + count) * g.c * g.h * g.w;
      const padLen = count * (g.h + 2 * g.padH) * (g.w + 2 * g.padW) * g.c;
      this.withOperands([[x, len, true, false], [xt, padLen, false, true]], ([xo, to]) =>
        this.kernel.rowsPad(xo!, n0, count, to!, g.c, g.h, g.w, g.padH, g.padW, relu ? 1 : 0));
    },
    im2row: (xt, rows, count, g) => {
      const padLen = count * (g.h + 2 * g.padH) * (g.w + 2 * g.padW) * g.c;
      const rowsLen = count * g.ho * g.wo * g.kh * g.kw * g.c;
      this.withOperands([[xt, padLen, true, false], [rows, rowsLen, false, true]], ([to, ro]) =>
        this.kernel.rowsIm2row(to!, ro!, count, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.ho, g.wo));
    },
    epilogue: (t, y, bias, residual, n0, count, g, relu) => {
      const L = g.ho * g.wo;
      const len = (n0 + count) * g.o * L;
      this.withOperands([[t, count * L * g.o, true, false], [y, len, true, true], [bias, g.o, true, false], [residual, len, true, false]], ([to, yo, bo, ro]) =>
        this.kernel.rowsEpilogue(to!, yo!, bo!, ro!, n0, count, g.o, L, relu ? 1 : 0));
    },
    gather: (gz, n0, count, t, g) => {
      const L = g.ho * g.wo;
      this.withOperands([[gz, (n0 + count) * g.o * L, true, false], [t, count * L * g.o, false, true]], ([go, to]) =>
        this.kernel.rowsGather(go!, n0, count, to!, g.o, L));
    },
    row2im: (rows, gxt, count, g) => {
      const padLen = count * (g.h + 2 * g.padH) * (g.w + 2 * g.padW) * g.c;
      const rowsLen = count * g.ho * g.wo * g.kh * g.kw * g.c;
      this.withOperands([[rows, rowsLen, true, false], [gxt, padLen, false, true]], ([ro, to]) =>
        this.kernel.rowsRow2im(ro!, to!, count, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.ho, g.wo));
    },
    unpadAdd: (gxt, gx, x, n0, count, g) => {
      const padLen = count * (g.h + 2 * g.padH) * (g.w + 2 * g.padW) * g.c;
      const len = (n0 + count) * g.c * g.h * g.w;
      this.withOperands([[gxt, padLen, true, false], [gx, len, true, true], [x, len, true, false]], ([to, go, xo]) =>
        this.kernel.rowsUnpadAdd(to!, go!, xo!, n0, count, g.c, g.h, g.w, g.padH, g.padW));
    },
  };

  /** A view of n floats in this memory for a transient activation or its gradient (see pool.ts ResidentMemory). */
  acquire(n: number, zero = false): Float32Array | undefined {
    const at = this.block(n, zero);
    return at === undefined ? undefined : this.track(new Float32Array(this.memory.buffer, at, n));
  }

  /** The same for n int32 indices (a transient max-pool's argmax). */
  acquireIndices(n: number): Int32Array | undefined {
    const at = this.block(n, false);
    return at === undefined ? undefined : this.track(new Int32Array(this.memory.buffer, at, n));
  }

  /** The byte offset of a free block of n 4-byte elements (zeroed when asked), or undefined past the budget. */
  private block(n: number, zero: boolean): number | undefined {
    let at = this.residentFree.get(n)?.pop();
    if (at === undefined) {
      const bytes = align16(n * 4) + 2 * RESIDENT_SLACK;
      if (this.residentBytes + bytes > RESIDENT_MAX_BYTES) return undefined;
      if (this.residentBump + bytes > this.residentLimit) {
        const top = this.memory.buffer.byteLength;
        this.reserve(top + Math.max(bytes, RESIDENT_CHUNK_BYTES));
        this.residentBump = top;
        this.residentLimit = this.memory.buffer.byteLength;
      }
      at = this.residentBump + RESIDENT_SLACK;
      this.residentBump += bytes;
      this.residentBytes += bytes;
    }
    if (zero) this.kernel.zeroFill(at, n * 4);
    return at;
  }

  /** Registers a view made on today's buffer (it stays valid when the memory grows: shared memory is never detached). */
  private track<T extends Float32Array | Int32Array>(view: T): T {
    this.residentViews.set(view, view.length);
    this.residentReaper.register(view, [view.byteOffset, view.length], view);
    return view;
  }

  /** Takes back a view acquire or acquireIndices gave (false for any other array). */
  release(a: Float32Array | Int32Array): boolean {
    const n = this.residentViews.get(a);
    if (n === undefined) return false;
    this.residentViews.delete(a);
    this.residentReaper.unregister(a);
    this.freeBlock(a.byteOffset, n);
    return true;
  }

  /** Whether `a` is a view acquire gave and that is not yet released. */
  owns(a: Float32Array | Int32Array): boolean {
    return this.residentViews.has(a);
  }

  private freeBlock(at: number, n: number): void {
    let list = this.residentFree.get(n);
    if (list === undefined) this.residentFree.set(n, (list = []));
    list.push(at);
  }

  /** Grows the shared memory so the first `bytes` bytes exist. */
  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) {
        throw new RangeError(`the wasm kernels need ${bytes} bytes of WebAssembly memory, more than the 4 GiB limit`);
      }
      this.memory.grow(pages);
    }
    if (this.heap.buffer.byteLength !== this.memory.buffer.byteLength) this.heap = new Float32Array(this.memory.buffer);
  }
}
