// Every kernel backend's matmul against the plain-TS reference (and the reference against a float64 oracle):
// odd shapes, all transpose variants, batches with broadcast and gapped strides, accumulation, and
// bit-identical results on one and two threads.
import { afterAll, describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { BlasBackend } from "../../../src/core/kernels/blas.js";
import { backendUnavailable, getBackend } from "../../../src/core/kernels/index.js";
import { JsBackend } from "../../../src/core/kernels/js.js";
import type { KernelBackend, MatmulArgs } from "../../../src/core/kernels/types.js";
import { WASM_PARALLEL_MIN_FLOPS, WasmBackend } from "../../../src/core/kernels/wasm.js";
import { Rng } from "../../../src/core/rng.js";

const js = new JsBackend();

function random(rng: Rng, n: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
}

/** Element (i, p) of op(A) for batch item t, straight from the definition in MatmulArgs. */
function opA(a: Float32Array, args: MatmulArgs, t: number, i: number, p: number): number {
  const o = t * (args.strideA ?? args.m * args.k);
  return args.transA ? a[o + p * args.m + i]! : a[o + i * args.k + p]!;
}
function opB(b: Float32Array, args: MatmulArgs, t: number, p: number, j: number): number {
  const o = t * (args.strideB ?? args.k * args.n);
  return args.transB ? b[o + j * args.k + p]! : b[o + p * args.n + j]!;
}

/** Float64 triple loop, the oracle for the js backend; returns C and, per element, Σ|a||b| for error bounds. */
function oracle(a: Float32Array, b: Float32Array, c0: Float32Array, args: MatmulArgs): { c: Float64Array; mag: Float64Array } {
  const c = Float64Array.from(c0);
  const mag = new Float64Array(c0.length);
  const strideC = args.strideC ?? args.m * args.n;
  for (let t = 0; t < (args.batch ?? 1); t++) {
    for (let i = 0; i < args.m; i++) {
      for (let j = 0; j < args.n; j++) {
        let s = 0;
        let abs = 0;
        for (let p = 0; p < args.k; p++) {
          const x = opA(a, args, t, i, p) * opB(b, args, t, p, j);
          s += x;
          abs += Math.abs(x);
        }
        const idx = t * strideC + i * args.n + j;
        c[idx] = (args.accumulate ? c[idx]! : 0) + s;
        mag[idx] = mag[idx]! + abs + (args.accumulate ? Math.abs(c0[idx]!) : 0);
      }
    }
  }
  return { c, mag };
}

/** Buffers for a call: A, B and a random C (so "overwrite" and "leave the gaps alone" are both checked). */
function buffers(rng: Rng, args: MatmulArgs): [Float32Array, Float32Array, Float32Array] {
  const batch = args.batch ?? 1;
  const span = (stride: number | undefined, size: number): number => (batch - 1) * (stride ?? size) + size;
  return [
    random(rng, span(args.strideA, args.m * args.k)),
    random(rng, span(args.strideB, args.k * args.n)),
    random(rng, span(args.strideC, args.m * args.n)),
  ];
}

/** Runs `backend` and checks it against the oracle within f32 accumulation error (k·ε·Σ|a||b|). */
function expectMatches(backend: KernelBackend, args: MatmulArgs, seed: number): void {
  const rng = new Rng(seed, "matmul-test");
  const [a, b, c0] = buffers(rng, args);
  const c = c0.slice();
  backend.matmul(a, b, c, args);
  const { c: want, mag } = oracle(a, b, c0, args);
  const eps = backend.name === "js" ? 2 ** -24 : (args.k + 2) * 2 ** -23;
  for (let i = 0; i < c.length; i++) {
    const bound = eps * mag[i]! + 1e-30;
    if (!(Math.abs(c[i]! - want[i]!) <= bound)) {
      throw new Error(`${backend.name} ${JSON.stringify(args)}: C[${i}] = ${c[i]} but expected ${want[i]} (bound ${bound})`);
    }
  }
}

/** Index of the first element whose bits differ (NaN-safe), or -1. */
function firstDifference(x: Float32Array, y: Float32Array): number {
  const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Int32Array(y.buffer, y.byteOffset, y.length);
  if (xi.length !== yi.length) return Math.min(xi.length, yi.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return i;
  return -1;
}

const SHAPES: readonly [number, number, number][] = [
  [1, 1, 1], [1, 7, 1], [3, 1, 5], [5, 3, 1], [2, 2, 0], [7, 9, 13], [4, 8, 4], [16, 16, 16], [6, 8, 256],
  [17, 33, 15], [31, 65, 257], [130, 70, 300], [13, 1030, 20],
];
const VARIANTS: readonly [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

/** The cases every backend must pass. */
function kernelSuite(make: () => KernelBackend): void {
  it("matches the oracle on odd shapes in every transpose variant, overwriting and accumulating", () => {
    const backend = make();
    let seed = 0;
    for (const [m, n, k] of SHAPES) {
      for (const [transA, transB] of VARIANTS) {
        for (const accumulate of [false, true]) expectMatches(backend, { m, n, k, transA, transB, accumulate }, seed++);
      }
    }
  });

  it("matches the oracle on random shapes and batches", () => {
    const backend = make();
    const rng = new Rng(7, "shapes");
    for (let trial = 0; trial < 40; trial++) {
      const m = 1 + rng.int(40);
      const n = 1 + rng.int(40);
      const k = 1 + rng.int(70);
      const batch = 1 + rng.int(4);
      expectMatches(backend, { m, n, k, batch, transA: rng.int(2) === 1, transB: rng.int(2) === 1, accumulate: rng.int(2) === 1 }, 1000 + trial);
    }
  });

  it("broadcasts with stride 0, leaves gaps between strided outputs alone, sums into a shared output", () => {
    const backend = make();
    let seed = 2000;
    for (const [transA, transB] of VARIANTS) {
      const [m, n, k] = [9, 11, 21];
      expectMatches(backend, { m, n, k, transA, transB, batch: 3, strideA: 0 }, seed++);
      expectMatches(backend, { m, n, k, transA, transB, batch: 3, strideB: 0 }, seed++);
      expectMatches(backend, { m, n, k, transA, transB, batch: 3, strideA: m * k + 3, strideB: k * n + 1, strideC: m * n + 5 }, seed++);
      // strideC = 0 with accumulate: the weight gradient of a matrix broadcast over the batch
      expectMatches(backend, { m, n, k, transA, transB, batch: 4, strideC: 0, accumulate: true }, seed++);
    }
  });

  it("rejects buffers too small for the shapes with a ShapeError naming the operand", () => {
    const backend = make();
    const args = { m: 4, n: 5, k: 6, transA: false, transB: false };
    expect(() => backend.matmul(new Float32Array(23), new Float32Array(30), new Float32Array(20), args)).toThrow(ShapeError);
    expect(() => backend.matmul(new Float32Array(24), new Float32Array(30), new Float32Array(19), args)).toThrow(/C has 19 elements/);
    expect(() => backend.matmul(new Float32Array(24), new Float32Array(30), new Float32Array(20), { ...args, m: -1 })).toThrow(/m must be/);
    expect(() => backend.matmul(new Float32Array(24), new Float32Array(30), new Float32Array(20), { ...args, batch: 2, strideA: 0 })).toThrow(/B has 30/);
  });
}

describe("js backend (the reference)", () => {
  kernelSuite(() => js);
});

describe("wasm backend", () => {
  const wasm = new WasmBackend();
  afterAll(() => wasm.close());
  kernelSuite(() => wasm);

  it("gives bit-identical results on one and two threads, split by batch, rows or columns", () => {
    // these cases exercise the splitting, so they run with a threshold below every case's size
    const splitMinFlops = 1 << 21;
    const wasm = new WasmBackend({ parallelMinFlops: splitMinFlops });
    expect(wasm.startThreads()).toBeUndefined();
    const rng = new Rng(11, "threads");
    const cases: MatmulArgs[] = [
      { m: 200, n: 150, k: 90, transA: false, transB: false }, // rows
      { m: 7, n: 300, k: 600, transA: true, transB: false }, // columns
      { m: 40, n: 41, k: 300, transA: false, transB: true, batch: 8 }, // batch items
      { m: 100, n: 60, k: 100, transA: true, transB: true, batch: 3 }, // odd batch: rows of every item
      { m: 96, n: 128, k: 64, transA: false, transB: false, batch: 4, strideB: 0, strideC: 0, accumulate: true },
      { m: 130, n: 70, k: 600, transA: false, transB: true, accumulate: true },
      { m: 600_000, n: 8, k: 1, transA: false, transB: false }, // more row blocks than the chunk cap
    ];
    for (const args of cases) {
      expect(2 * args.m * args.n * args.k * (args.batch ?? 1)).toBeGreaterThanOrEqual(splitMinFlops);
      const [a, b, c0] = buffers(rng, args);
      const one = c0.slice();
      wasm.setThreads(1);
      wasm.matmul(a, b, one, args);
      wasm.setThreads(2);
      const before = wasm.stats.workerChunks;
      // repeat until the worker has computed a chunk (it may sleep through the first calls on a busy machine)
      for (let attempt = 0; attempt < 200 && wasm.stats.workerChunks === before; attempt++) {
        const two = c0.slice();
        wasm.matmul(a, b, two, args);
        expect(firstDifference(two, one), JSON.stringify(args)).toBe(-1);
      }
      expect(wasm.stats.workerChunks, `the worker never ran a chunk of ${JSON.stringify(args)}`).toBeGreaterThan(before);
    }
    wasm.close();
  });

  it("keeps products below the default threshold on one thread and splits those above it", () => {
    const rng = new Rng(12, "threshold");
    const small: MatmulArgs = { m: 2048, n: 64, k: 162, transA: false, transB: true }; // an RL-sized layer
    const large: MatmulArgs = { m: 256, n: 256, k: 512, transA: false, transB: false };
    expect(2 * small.m * small.n * small.k).toBeLessThan(WASM_PARALLEL_MIN_FLOPS);
    expect(2 * large.m * large.n * large.k).toBeGreaterThanOrEqual(WASM_PARALLEL_MIN_FLOPS);
    wasm.setThreads(2);
    const calls = wasm.stats.parallelCalls;
    const [a, b, c] = buffers(rng, small);
    wasm.matmul(a, b, c, small);
    expect(wasm.stats.parallelCalls).toBe(calls);
    const [a2, b2, c2] = buffers(rng, large);
    wasm.matmul(a2, b2, c2, large);
    expect(wasm.stats.parallelCalls).toBe(calls + 1);
  });
});

const blasReason = backendUnavailable("blas");
if (blasReason !== undefined) console.warn(`blas backend tests skipped: ${blasReason}`);

describe.skipIf(blasReason !== undefined)(`blas backend${blasReason ? ` (skipped: ${blasReason})` : ""}`, () => {
  kernelSuite(() => getBackend("blas"));

  // OpenBLAS runs different edge kernels when its thread split moves, so unlike wasm its last bits may change
  // with the thread count; a fixed thread count must still repeat exactly (training determinism).
  it("repeats bit-identically at a fixed thread count and agrees across thread counts", () => {
    const blas = getBackend("blas") as BlasBackend;
    const rng = new Rng(12, "blas-threads");
    const args: MatmulArgs = { m: 300, n: 257, k: 190, transA: false, transB: true };
    const [a, b, c0] = buffers(rng, args);
    const threads = blas.threads;
    const minFlops = blas.parallelMinFlops;
    blas.parallelMinFlops = 0; // this product runs on two threads when two are asked for
    try {
      const results: Float32Array[] = [];
      for (const t of [1, 1, 2, 2]) {
        blas.setThreads(t);
        const c = c0.slice();
        blas.matmul(a, b, c, args);
        results.push(c);
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[3]).toEqual(results[2]);
      for (let i = 0; i < c0.length; i++) expect(Math.abs(results[2]![i]! - results[0]![i]!)).toBeLessThan(1e-4);
    } finally {
      blas.setThreads(threads);
      blas.parallelMinFlops = minFlops;
    }
  });

  it("runs products below parallelMinFlops on one thread and larger ones on all threads (a rule of sizes only)", () => {
    const blas = getBackend("blas") as BlasBackend;
    const threads = blas.threads;
    const minFlops = blas.parallelMinFlops;
    const rng = new Rng(14, "blas-threshold");
    // tall-skinny like PPO's layers (batch 512 × 64 units, 7.9 MFLOP), and a larger product (33.6 MFLOP)
    const small: MatmulArgs = { m: 512, n: 64, k: 120, transA: false, transB: true };
    const big: MatmulArgs = { m: 256, n: 256, k: 256, transA: false, transB: false };
    const [a, b, c0] = buffers(rng, small);
    const [a2, b2, c2] = buffers(rng, big);
    try {
      blas.setThreads(2);
      const two = blas.threads;
      blas.parallelMinFlops = 16e6;
      expect(blas.threadsFor(2 * 512 * 64 * 120)).toBe(1);
      expect(blas.threadsFor(2 * 256 ** 3)).toBe(two);
      const results: Float32Array[] = [];
      for (const t of [1, 2, 2, 1]) {
        blas.setThreads(t);
        const c = c0.slice();
        blas.matmul(a2, b2, c2.slice(), big);
        if (blas.libraryThreadCount !== undefined) expect(blas.libraryThreadCount).toBe(Math.min(t, two));
        blas.matmul(a, b, c, small);
        if (blas.libraryThreadCount !== undefined) expect(blas.libraryThreadCount).toBe(1);
        results.push(c);
      }
      // the small product ran on one thread each time: the same bits whatever the backend's thread count
      for (const r of results.slice(1)) expect(Buffer.from(r.buffer).equals(Buffer.from(results[0]!.buffer))).toBe(true);
      // the default keeps PPO-sized products (up to the CNN's 105 MFLOP dense layer) on one thread
      blas.parallelMinFlops = minFlops;
      blas.setThreads(2);
      expect(blas.threadsFor(2 * 512 * 800 * 128)).toBe(1);
      expect(blas.threadsFor(2 * 1024 ** 3)).toBe(two);
    } finally {
      blas.setThreads(threads);
      blas.parallelMinFlops = minFlops;
    }
  });

  it("runs batches of small products on the wasm kernel (its very bits); single products and larger batches stay correct through CBLAS", () => {
    const blas = getBackend("blas") as BlasBackend;
    const wasm = getBackend("wasm");
    const rng = new Rng(13, "blas-small-batches");
    const small: MatmulArgs = { m: 11, n: 11, k: 11, transA: false, transB: true, batch: 64 };
    const [a, b, c0] = buffers(rng, small);
    const viaBlas = c0.slice();
    const viaWasm = c0.slice();
    blas.matmul(a, b, viaBlas, small);
    wasm.matmul(a, b, viaWasm, small);
    expect(viaBlas).toEqual(viaWasm);
    // one product of the same size and a batch above the threshold go through CBLAS
    for (const args of [{ ...small, batch: 1 }, { m: 40, n: 33, k: 30, transA: true, transB: false, batch: 3 }] as MatmulArgs[]) {
      const [a2, b2, c2] = buffers(rng, args);
      const x = c2.slice();
      const y = c2.slice();
      blas.matmul(a2, b2, x, args);
      getBackend("js").matmul(a2, b2, y, args);
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4);
    }
  });
});
