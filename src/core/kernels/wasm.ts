// The `wasm` kernel backend: the f32x4 SIMD GEMM of assembly/matmul.ts (built into dist/wasm/matmul.wasm),
// on one shared WebAssembly.Memory. Tensors live in JS Float32Arrays, so each call copies its operands in and
// its result out (a memcpy each; ~1% of a 1024³ product). Large products are split in two — by batch items,
// rows or columns, never along k — and the second half runs on a worker thread that shares the memory; the
// call stays synchronous (Atomics). Every element is computed by the same instruction sequence however the
// work is split, so the thread count never changes a result.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { resolveMatmul, type ResolvedMatmul } from "./args.js";
import type { KernelBackend, MatmulArgs } from "./types.js";

interface MatmulExports {
  scratchBytes(): number;
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
 * Products below this many flops run on one thread. Measured on 2 Zen 5 cores (bench/core.ts, and the sweep in
 * test/core/kernels): waking the worker costs ~20–50 µs, which a split only wins back from ~1 MFLOP up
 * (e.g. 64×64×128); below it the second thread is pure overhead.
 */
export const WASM_PARALLEL_MIN_FLOPS = 1 << 20;

// Control block shared with the worker (Int32 slots).
const STATE = 0; // 0 idle, 1 job posted, 2 job claimed by the worker, 3 job done
const READY = 1; // 1 once the worker has instantiated the module
const QUIT = 2; // 1 asks the worker to exit
const FAILED = 3; // 1 if the worker's last job threw
const JOB = 8; // the 17 gemmBatch arguments
const CTRL_SLOTS = JOB + 17;

const IDLE = 0;
const POSTED = 1;
const CLAIMED = 2;
const DONE = 3;

// The worker: instantiate the same module on the same memory, then run posted jobs until told to quit.
// Inline (eval) so it works the same from dist/ and from the TypeScript sources under vitest.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
const ctrl = new Int32Array(control);
const gemmBatch = new WebAssembly.Instance(module, { env: { memory } }).exports.gemmBatch;
Atomics.store(ctrl, ${READY}, 1);
Atomics.notify(ctrl, ${READY});
for (;;) {
  Atomics.wait(ctrl, ${STATE}, ${IDLE});
  if (Atomics.load(ctrl, ${QUIT}) === 1) break;
  if (Atomics.compareExchange(ctrl, ${STATE}, ${POSTED}, ${CLAIMED}) !== ${POSTED}) continue;
  try {
    const j = ${JOB};
    gemmBatch(ctrl[j], ctrl[j + 1], ctrl[j + 2], ctrl[j + 3], ctrl[j + 4], ctrl[j + 5], ctrl[j + 6], ctrl[j + 7],
      ctrl[j + 8], ctrl[j + 9], ctrl[j + 10], ctrl[j + 11], ctrl[j + 12], ctrl[j + 13], ctrl[j + 14], ctrl[j + 15],
      ctrl[j + 16]);
  } catch (err) {
    Atomics.store(ctrl, ${FAILED}, 1);
  }
  Atomics.store(ctrl, ${STATE}, ${DONE});
  Atomics.notify(ctrl, ${STATE});
}
`;

/** Where the build put the kernel module, from dist/src/core/kernels or from src/core/kernels. */
function findWasm(file: string): string {
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

export class WasmBackend implements KernelBackend {
  readonly name = "wasm" as const;
  /** threads this backend can use: 2 when worker_threads and shared memory work, else 1 */
  readonly maxThreads: number;
  private requestedThreads: number;
  private readonly module: WasmModule;
  private readonly memory: WasmMemory;
  private readonly kernel: MatmulExports;
  private readonly tileRows: number;
  private readonly tileCols: number;
  /** byte offsets of the main thread's and the worker's scratch areas, and of the operand area after them */
  private readonly scratch: readonly [number, number];
  private readonly dataStart: number;
  private heap: Float32Array;
  private readonly ctrl: Int32Array;
  private worker: Worker | undefined;
  private workerBroken: string | undefined;
  /** how split products went: halves run by the worker, and halves the main thread took back (worker asleep) */
  readonly stats = { splitCalls: 0, workerHalves: 0, reclaimedHalves: 0 };

  /** Loads and instantiates the kernels; throws (with the reason) where WebAssembly SIMD or threads are missing. */
  constructor(options: { threads?: number } = {}) {
    if (wasmApi === undefined) throw new Error("this JavaScript runtime has no WebAssembly");
    this.module = new wasmApi.Module(readFileSync(findWasm("matmul.wasm")));
    this.memory = new wasmApi.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const instance = new wasmApi.Instance(this.module, { env: { memory: this.memory } });
    this.kernel = instance.exports as unknown as MatmulExports;
    this.tileRows = this.kernel.tileRows();
    this.tileCols = this.kernel.tileCols();
    // page 0 is left to the module's own static data (it has none today), then two scratch areas
    const scratchBytes = align16(this.kernel.scratchBytes());
    this.scratch = [PAGE, PAGE + scratchBytes];
    this.dataStart = PAGE + 2 * scratchBytes;
    this.heap = new Float32Array(this.memory.buffer);
    this.ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
    this.maxThreads = 2;
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
    while (Atomics.load(this.ctrl, READY) !== 1) {
      const left = deadline - performance.now();
      if (left <= 0) return "the worker thread did not start in time";
      Atomics.wait(this.ctrl, READY, 0, Math.min(left, 50));
    }
    return undefined;
  }

  /** Stops the worker thread (tests and benchmarks; an idle worker never keeps a process alive anyway). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    Atomics.store(this.ctrl, QUIT, 1);
    Atomics.notify(this.ctrl, STATE);
    await worker.terminate();
    Atomics.store(this.ctrl, QUIT, 0);
    Atomics.store(this.ctrl, READY, 0);
    Atomics.store(this.ctrl, STATE, IDLE);
  }

  matmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void {
    const r = resolveMatmul(a, b, c, args);
    if (r.batch === 0 || r.m === 0 || r.n === 0) return;
    // operand layout in the heap: A, B, C one after another, 16-byte aligned
    const aOff = this.dataStart;
    const bOff = aOff + align16(r.spanA * 4);
    const cOff = bOff + align16(r.spanB * 4);
    this.reserve(cOff + r.spanC * 4);
    const heap = this.heap;
    if (r.k > 0) {
      heap.set(a.subarray(0, r.spanA), aOff >> 2);
      heap.set(b.subarray(0, r.spanB), bOff >> 2);
    }
    const overlapping = r.strideC < r.m * r.n;
    // C is read back whole, so it is copied in when accumulating, or when the batch leaves gaps in it
    if (r.accumulate || (!overlapping && r.strideC > r.m * r.n)) heap.set(c.subarray(0, r.spanC), cOff >> 2);
    this.run(aOff, bOff, cOff, r, overlapping);
    c.set(heap.subarray(cOff >> 2, (cOff >> 2) + r.spanC));
  }

  private run(aOff: number, bOff: number, cOff: number, r: ResolvedMatmul, overlapping: boolean): void {
    const flags = (r.transA ? 1 : 0) | (r.transB ? 2 : 0) | (r.accumulate ? 4 : 0);
    const job = [aOff, bOff, cOff, r.m, r.n, r.k, flags, 0, r.batch, r.strideA, r.strideB, r.strideC, 0, r.m, 0, r.n];
    const gemm = (j: readonly number[], scratch: number): void =>
      this.kernel.gemmBatch(j[0]!, j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!, j[7]!, j[8]!, j[9]!, j[10]!, j[11]!, j[12]!, j[13]!, j[14]!, j[15]!, scratch);
    const parallel = this.threads > 1 && 2 * r.m * r.n * r.k * r.batch >= WASM_PARALLEL_MIN_FLOPS;
    const split = parallel ? this.splitPoint(r, overlapping) : undefined;
    const worker = split === undefined ? undefined : this.ensureWorker();
    if (split === undefined || worker === undefined) {
      gemm(job, this.scratch[0]);
      return;
    }
    const [slot, at] = split; // job slot to split (7 batch, 12 rows, 14 columns) and where
    const first = job.slice();
    const second = job.slice();
    first[slot + 1] = at;
    second[slot] = at;
    const ctrl = this.ctrl;
    for (let i = 0; i < second.length; i++) ctrl[JOB + i] = second[i]!;
    ctrl[JOB + 16] = this.scratch[1];
    this.stats.splitCalls++;
    Atomics.store(ctrl, STATE, POSTED);
    Atomics.notify(ctrl, STATE, 1);
    gemm(first, this.scratch[0]);
    // If the worker has not picked the second half up yet (asleep, or still starting), do it here rather than wait.
    if (Atomics.compareExchange(ctrl, STATE, POSTED, IDLE) === POSTED) {
      this.stats.reclaimedHalves++;
      gemm(second, this.scratch[0]);
      return;
    }
    this.stats.workerHalves++;
    for (let spin = 0; Atomics.load(ctrl, STATE) !== DONE; spin++) {
      if (spin > 2000) Atomics.wait(ctrl, STATE, CLAIMED, 1);
    }
    Atomics.store(ctrl, STATE, IDLE);
    if (Atomics.exchange(ctrl, FAILED, 0) === 1) {
      // the worker hit an error it could not report; redo its half here and stop using it
      this.workerBroken = "the worker thread failed a kernel call";
      gemm(second, this.scratch[0]);
    }
  }

  /**
   * Where to cut the work in two, or undefined when it cannot be split safely or usefully: by batch items when
   * there are several and their outputs do not overlap, else by the larger of rows/columns on a register-tile boundary
   * (rows when m ≥ n: each half then repacks B, the smaller duplicate).
   */
  private splitPoint(r: ResolvedMatmul, overlapping: boolean): [number, number] | undefined {
    // outputs that partly overlap (0 < strideC < m·n) put one element in different tiles of different items
    if (overlapping && r.strideC !== 0 && r.batch > 1) return undefined;
    if (r.batch >= 2 && !overlapping && (r.batch % 2 === 0 || r.batch >= 8)) return [7, Math.ceil(r.batch / 2)];
    const rowTiles = Math.ceil(r.m / this.tileRows);
    const colTiles = Math.ceil(r.n / this.tileCols);
    if (r.m >= r.n && rowTiles >= 2) return [12, Math.ceil(rowTiles / 2) * this.tileRows];
    if (colTiles >= 2) return [14, Math.ceil(colTiles / 2) * this.tileCols];
    if (rowTiles >= 2) return [12, Math.ceil(rowTiles / 2) * this.tileRows];
    return undefined;
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker !== undefined || this.workerBroken !== undefined) return this.worker;
    try {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, control: this.ctrl.buffer },
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

  /** Grows the shared memory so the first `bytes` bytes exist. */
  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) {
        throw new RangeError(`wasm matmul needs ${bytes} bytes of WebAssembly memory, more than the 4 GiB limit`);
      }
      this.memory.grow(pages);
    }
    if (this.heap.buffer.byteLength !== this.memory.buffer.byteLength) this.heap = new Float32Array(this.memory.buffer);
  }
}
