// Every backend's conv2d (forward and backward, with each fusion) against the js reference on odd shapes: 1×1
// images, channel counts that are not multiples of 4 or 8, strides and paddings, kernels wider than the image;
// the js reference against a float64 oracle built from matmul's reference; and bit-identical wasm results on one
// and two threads (images split for the forward and input gradient, filter columns for the filter gradient).
import { afterAll, describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { backendUnavailable, getBackend } from "../../../src/core/kernels/index.js";
import { BlasBackend } from "../../../src/core/kernels/blas.js";
import { JsBackend } from "../../../src/core/kernels/js.js";
import { type Conv2dArgs, type KernelBackend, windowOutputSize } from "../../../src/core/kernels/types.js";
import { WasmBackend, hostConvBlock } from "../../../src/core/kernels/wasm.js";
import { Rng } from "../../../src/core/rng.js";
import { expectClose, runConvCase } from "./conv_case.js";

const js = new JsBackend();

interface Case {
  n: number; c: number; h: number; w: number; o: number; k: [number, number]; s: [number, number]; p: [number, number];
}
const CASES: Case[] = [
  { n: 1, c: 1, h: 1, w: 1, o: 1, k: [1, 1], s: [1, 1], p: [0, 0] },
  { n: 2, c: 3, h: 1, w: 1, o: 5, k: [3, 3], s: [1, 1], p: [1, 1] }, // 1×1 image, 3×3 kernel: only the centre tap
  { n: 3, c: 5, h: 7, w: 6, o: 7, k: [3, 3], s: [1, 1], p: [1, 1] },
  { n: 2, c: 3, h: 9, w: 11, o: 9, k: [3, 2], s: [2, 1], p: [1, 0] },
  { n: 2, c: 6, h: 5, w: 12, o: 13, k: [3, 3], s: [2, 2], p: [1, 2] },
  { n: 1, c: 2, h: 4, w: 3, o: 3, k: [5, 5], s: [1, 3], p: [2, 2] }, // kernel larger than the image
  { n: 4, c: 17, h: 6, w: 5, o: 16, k: [3, 3], s: [1, 1], p: [1, 1] }, // K = 153 and O = 16: tile edges on both axes
  { n: 2, c: 40, h: 3, w: 4, o: 6, k: [3, 3], s: [1, 1], p: [1, 1] }, // K = 360 > one packed depth block (256)
  { n: 3, c: 3, h: 7, w: 8, o: 5, k: [5, 5], s: [1, 1], p: [2, 2] }, // "same" with a 5×5 kernel: five column masks
  { n: 2, c: 4, h: 5, w: 9, o: 3, k: [1, 3], s: [1, 1], p: [0, 1] }, // "same" 1×3: rows never shift
  { n: 2, c: 2, h: 11, w: 1, o: 2, k: [3, 3], s: [1, 1], p: [1, 1] }, // "same" on one-column images: side taps all masked
];
const FUSIONS = [
  { reluInput: false, relu: false, bias: false, residual: false },
  { reluInput: false, relu: true, bias: true, residual: false },
  { reluInput: true, relu: true, bias: true, residual: false },
  { reluInput: true, relu: false, bias: false, residual: true },
  { reluInput: false, relu: true, bias: true, residual: true },
];

function random(rng: Rng, n: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
}

function argsOf(c: Case, f: (typeof FUSIONS)[number]): Conv2dArgs {
  return { n: c.n, c: c.c, h: c.h, w: c.w, o: c.o, kh: c.k[0], kw: c.k[1], strideH: c.s[0], strideW: c.s[1], padH: c.p[0], padW: c.p[1], reluInput: f.reluInput, relu: f.relu };
}

/** Runs forward and backward on `backend`, starting every gradient from the same random values (they accumulate). */
function run(backend: KernelBackend, a: Conv2dArgs, f: (typeof FUSIONS)[number], seed: number, place = (v: Float32Array): Float32Array => v) {
  return runConvCase(a, f, new Rng(seed, "conv-case"), random,
    (x, w, b, r, y) => backend.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => backend.conv2dBackward(x, w, y, gy, g, a), place);
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/**
 * Runs every fusion of each shape forward and backward on `backend` at one thread and then at two, and expects the
 * same bits; `twoThreads` is called before each two-thread run and returns a check of its result.
 */
function expectSameBitsOnOneAndTwoThreads(
  backend: KernelBackend, shapes: readonly Case[], seedStride: number,
  twoThreads: (label: string) => (two: ReturnType<typeof run>, a: Conv2dArgs, f: (typeof FUSIONS)[number], seed: number) => void = () => () => {},
): void {
  for (const [ci, c] of shapes.entries()) {
    for (const [fi, f] of FUSIONS.entries()) {
      const a = argsOf(c, f);
      const seed = seedStride * ci + fi;
      const label = `case ${ci} fusion ${fi}`;
      backend.setThreads(1);
      const one = run(backend, a, f, seed);
      backend.setThreads(2);
      const check = twoThreads(label);
      const two = run(backend, a, f, seed);
      for (const key of ["y", "x", "weight", "bias", "residual"] as const) {
        const p = one[key], q = two[key];
        if (p === null || q === null) continue;
        expect(firstDifference(p, q), `${label} ${key}`).toBe(-1);
      }
      check(two, a, f, seed);
    }
  }
}

describe("js conv2d reference", () => {
  it("equals an im2col + float64 product oracle, and its backward equals the adjoint", () => {
    // ⟨gy, conv(x)⟩ = ⟨conv_xᵀ(gy), x⟩ = ⟨conv_wᵀ(gy), w⟩: the backward is the exact adjoint of the forward
    const a = argsOf(CASES[3]!, FUSIONS[0]!);
    const rng = new Rng(3, "adjoint");
    const [ho, wo] = windowOutputSize(a);
    const x = random(rng, a.n * a.c * a.h * a.w);
    const w = random(rng, a.o * a.c * a.kh * a.kw);
    const gy = random(rng, a.n * a.o * ho * wo);
    const y = new Float32Array(gy.length);
    js.conv2d(x, w, null, null, y, a);
    const gx = new Float32Array(x.length);
    const gw = new Float32Array(w.length);
    js.conv2dBackward(x, w, y, gy, { x: gx, weight: gw, bias: null, residual: null }, a);
    const dot = (p: Float32Array, q: Float32Array): number => p.reduce((s, v, i) => s + v * q[i]!, 0);
    expect(dot(gx, x)).toBeCloseTo(dot(gy, y), 3);
    expect(dot(gw, w)).toBeCloseTo(dot(gy, y), 3);
    // one output element from the definition
    let s = 0;
    for (let c = 0; c < a.c; c++) for (let i = 0; i < a.kh; i++) for (let j = 0; j < a.kw; j++) {
      const ih = 1 * a.strideH - a.padH + i, iw = 2 * a.strideW - a.padW + j;
      if (ih >= 0 && ih < a.h && iw >= 0 && iw < a.w) s += x[((1 * a.c + c) * a.h + ih) * a.w + iw]! * w[((4 * a.c + c) * a.kh + i) * a.kw + j]!;
    }
    expect(y[((1 * a.o + 4) * ho + 1) * wo + 2]).toBeCloseTo(s, 5);
  });
});

const others = (["wasm", "blas"] as const).filter((name) => {
  const why = backendUnavailable(name);
  if (why !== undefined) console.warn(`conv2d: skipping the ${name} backend: ${why}`);
  return why === undefined;
});

describe.each(others)("%s conv2d", (name) => {
  const backend = getBackend(name);
  for (const [ci, c] of CASES.entries()) {
    it(`matches the js reference: n${c.n} c${c.c} ${c.h}×${c.w} → o${c.o}, kernel ${c.k.join("×")}, stride ${c.s.join("×")}, padding ${c.p.join("×")}, every fusion`, () => {
      for (const [fi, f] of FUSIONS.entries()) {
        const a = argsOf(c, f);
        const want = run(js, a, f, 100 * ci + fi);
        const got = run(backend, a, f, 100 * ci + fi);
        const tag = `case ${ci} fusion ${fi}`;
        expectClose(got.y, want.y, `${tag} y`);
        expectClose(got.x, want.x, `${tag} gx`);
        expectClose(got.weight, want.weight, `${tag} gw`);
        expectClose(got.bias, want.bias, `${tag} gb`);
        expectClose(got.residual, want.residual, `${tag} gres`);
      }
    });
  }

  it("reuses no stale dense matrix: a filter updated in place (as the optimizer does) gives the new result", () => {
    const a: Conv2dArgs = { n: 3, c: 4, h: 2, w: 3, o: 5, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false };
    const rng = new Rng(5, "dense-cache");
    const x = random(rng, 3 * 4 * 6);
    const w = random(rng, 5 * 4 * 9);
    const [ho, wo] = windowOutputSize(a);
    const outLen = 3 * 5 * ho * wo;
    for (let round = 0; round < 3; round++) {
      const got = new Float32Array(outLen);
      const want = new Float32Array(outLen);
      backend.conv2d(x, w, null, null, got, a);
      js.conv2d(x, w, null, null, want, a);
      expectClose(got, want, `round ${round}`);
      const tap = (round * 37) % w.length;
      w[tap] = w[tap]! + 0.5; // one tap moves, in place
      if (round === 1) w[3] = -0; // a sign-only change of a zero tap still counts as a change
    }
  });

  it("max-pools exactly as the js reference (values and argmax), with ties, ±∞ and NaN, on odd shapes", () => {
    const rng = new Rng(21, "pool");
    // 3×3 stride 2 padding 1 (the policy's pooling) has its own SIMD kernel: widths below, at and above its four
    // lanes, odd and even sizes, 1-pixel images; patterns: random with ties, mostly −∞, NaN runs, three values
    // only (every window full of ties, as a maze's repeated wall patterns give), ±0
    const shapes = [[1, 1, 1, 1, 1, 0], [3, 5, 7, 3, 2, 1], [2, 6, 4, 2, 2, 0], [5, 9, 9, 3, 2, 1], [1, 4, 5, 3, 1, 1],
      [4, 17, 17, 3, 2, 1], [3, 6, 11, 3, 2, 1], [2, 3, 6, 3, 2, 1], [3, 1, 2, 3, 2, 1], [2, 2, 1, 3, 2, 1], [1, 1, 1, 3, 2, 1], [2, 5, 16, 3, 2, 1], [1, 3, 9, 3, 2, 1]] as const;
    for (const [shape, pattern] of shapes.flatMap((s) => [0, 1, 2, 3, 4].map((p) => [s, p] as const))) {
      const [planes, h, w, k, st, pd] = shape;
      const x = random(rng, planes * h * w);
      if (pattern === 0) {
        // ties, infinities and NaNs in a few places
        for (let i = 0; i < x.length; i += 7) x[i] = 0.5;
        if (x.length > 10) { x[3] = Number.POSITIVE_INFINITY; x[5] = Number.NaN; x[9] = Number.NEGATIVE_INFINITY; }
      } else if (pattern === 1) {
        for (let i = 0; i < x.length; i++) if (i % 5 !== 2) x[i] = Number.NEGATIVE_INFINITY;
      } else if (pattern === 2) {
        for (let i = 0; i < x.length; i++) if (i % 4 === 1 || i % 9 === 0) x[i] = Number.NaN;
      } else if (pattern === 3) {
        for (let i = 0; i < x.length; i++) x[i] = rng.int(3);
      } else {
        for (let i = 0; i < x.length; i++) x[i] = rng.int(2) === 0 ? -0 : 0;
      }
      const a = { planes, h, w, kh: k, kw: k, strideH: st, strideW: st, padH: pd, padW: pd };
      const out = planes * (Math.floor((h + 2 * pd - k) / st) + 1) * (Math.floor((w + 2 * pd - k) / st) + 1);
      const [y1, y2] = [new Float32Array(out), new Float32Array(out)];
      const [a1, a2] = [new Int32Array(out), new Int32Array(out)];
      js.maxPool2d(x, y1, a1, a);
      backend.maxPool2d(x, y2, a2, a);
      expect(Array.from(y2)).toEqual(Array.from(y1));
      expect(Array.from(a2)).toEqual(Array.from(a1));
    }
  });

  it("rejects buffers too small for the call", () => {
    const a = argsOf(CASES[2]!, FUSIONS[0]!);
    expect(() => backend.conv2d(new Float32Array(3), new Float32Array(1000), null, null, new Float32Array(10000), a)).toThrow(ShapeError);
    expect(() => backend.conv2d(new Float32Array(1000), new Float32Array(1000), null, null, new Float32Array(10000), { ...a, kh: 9, padH: 0 })).toThrow(/does not fit/);
  });
});

describe("blas conv2d in several blocks", () => {
  const why = backendUnavailable("blas");
  it.skipIf(why !== undefined)("matches the js reference when a layer's im2col is cut into blocks of a few images", () => {
    // a blas backend of its own whose wasm convolutions cut every call into blocks of 1–2 images, so the filter
    // gradient accumulates over blocks and the epilogue and col2im write at block offsets
    const blas = BlasBackend.load();
    blas.useOneDnn = false; // this path, not oneDNN's (onednn.test.ts)
    blas.rowsMaxPixels = 0; // the 6×5 case would convolve as row products (conv_rows.test.ts)
    const wasm = new WasmBackend();
    wasm.hostGemmBlockFloats = 400;
    blas.convolutionBackend = wasm;
    for (const [ci, c] of [CASES[2]!, CASES[3]!, CASES[6]!].entries()) {
      for (const [fi, f] of FUSIONS.entries()) {
        const a = argsOf(c, f);
        const want = run(js, a, f, 31 * ci + fi);
        const got = run(blas, a, f, 31 * ci + fi);
        for (const key of ["y", "x", "weight", "bias", "residual"] as const) expectClose(got[key], want[key], `case ${ci} fusion ${fi} ${key}`);
      }
    }
  });
});

describe("blas conv2d blocks on two threads", () => {
  const why = backendUnavailable("blas");
  const wasm = why === undefined ? new WasmBackend() : undefined;
  afterAll(async () => wasm?.close());

  it.skipIf(why !== undefined)("runs a layer's blocks on both threads (the worker calling the same cblas_sgemm) with one thread's very bits", () => {
    const blas = BlasBackend.load();
    blas.useOneDnn = false; // this path, not oneDNN's (onednn.test.ts)
    blas.rowsMaxPixels = 0; // im2col blocks (small images would convolve as row products, on the calling thread)
    const w = wasm!;
    w.hostGemmBlockFloats = 400; // blocks of 1–2 images: many blocks per call
    w.hostParallelMinFlops = 0;
    blas.convolutionBackend = w;
    blas.setThreads(2);
    // the first convolution tells the wasm worker how to load the GEMM; it starts with it
    run(blas, argsOf(CASES[2]!, FUSIONS[0]!), FUSIONS[0]!, 1);
    expect(w.startThreads()).toBeUndefined();
    const shapes: Case[] = [CASES[2]!, CASES[6]!, { n: 33, c: 16, h: 10, w: 10, o: 32, k: [3, 3], s: [1, 1], p: [1, 1] }];
    expectSameBitsOnOneAndTwoThreads(blas, shapes, 5, (label) => {
      const posted = w.stats.parallelCalls;
      return (two, a, f, seed) => {
        expect(w.stats.parallelCalls, `${label}: blocks posted to both threads`).toBeGreaterThan(posted);
        const want = run(js, a, f, seed);
        for (const key of ["y", "x", "weight", "bias", "residual"] as const) expectClose(two[key], want[key], `${label} ${key} against js`);
      };
    });
    // a host GEMM that would run a block's product on two OpenBLAS threads keeps the blocks on this thread
    blas.parallelMinFlops = 0;
    const posted = w.stats.parallelCalls;
    run(blas, argsOf(shapes[2]!, FUSIONS[0]!), FUSIONS[0]!, 3);
    expect(w.stats.parallelCalls).toBe(posted);
  });
});

describe("host convolution blocks after a worker failure", () => {
  it("run only the parts of a block its flags do not mark done, so no part adds into a gradient twice", () => {
    // the block's calls recorded through stand-ins for the wasm exports and the GEMM
    const calls: string[] = [];
    const kx = {
      convIm2col: () => void calls.push("im2col"),
      convEpilogue: () => void calls.push("epilogue"),
      convGatherGrad: () => void calls.push("gather"),
      convCol2im: () => void calls.push("col2im"),
    };
    const gemm = (_a: number, _b: number, c: number): void => void calls.push(`gemm→${c}`);
    const heap = new Int32Array(64);
    const desc = 0, flagsAt = 128; // byte offsets; the descriptor's area slots (10, 11) give the work areas
    heap[10] = 1000;
    heap[11] = 500;
    // [desc, mode, K, L, o, nb, n, w, part, flags]: 5 images in blocks of 2, block 1
    const job = (mode: number): Int32Array => Int32Array.from([desc, mode, 4, 3, 2, 2, 5, 64, 4096, flagsAt]);
    const runWith = (mode: number, done: number): string[] => {
      calls.length = 0;
      heap[flagsAt / 4 + 1] = done;
      hostConvBlock(kx, gemm, job(mode), heap, 1, 0);
      return [...calls, `flags ${heap[flagsAt / 4 + 1]}`];
    };
    const partial = 4096 + 1 * 2 * 4 * 4; // block 1's filter-gradient partial
    expect(runWith(6, 0)).toEqual(["gather", "gemm→1000", "col2im", "im2col", `gemm→${partial}`, "flags 3"]);
    expect(runWith(6, 1)).toEqual(["gather", "im2col", `gemm→${partial}`, "flags 3"]);
    expect(runWith(6, 3)).toEqual(["gather", "flags 3"]);
    expect(runWith(4, 0)).toEqual(["gather", "im2col", `gemm→${partial}`, "flags 2"]);
    expect(runWith(1, 0)).toEqual(["im2col", "gemm→1096", "epilogue", "flags 1"]);
    expect(runWith(1, 1)).toEqual(["flags 1"]);
  });
});

describe("wasm conv2d threads", () => {
  const wasm = backendUnavailable("wasm") === undefined ? new WasmBackend({ parallelMinFlops: 0 }) : undefined;
  afterAll(async () => wasm?.close());

  it.skipIf(wasm === undefined)("gives bit-identical outputs and gradients on one and two threads", () => {
    const w = wasm!;
    expect(w.startThreads()).toBeUndefined();
    const shapes: Case[] = [CASES[2]!, CASES[4]!, CASES[6]!, { n: 33, c: 16, h: 10, w: 10, o: 32, k: [3, 3], s: [1, 1], p: [1, 1] }];
    expectSameBitsOnOneAndTwoThreads(w, shapes, 7, () => {
      const before = w.stats.workerChunks;
      return () => expect(w.stats.workerChunks).toBeGreaterThanOrEqual(before); // the worker took part (when awake in time)
    });
    expect(w.stats.parallelCalls).toBeGreaterThan(0);
  });
});

describe("wasm max-pool threads", () => {
  const wasm = backendUnavailable("wasm") === undefined ? new WasmBackend() : undefined;
  afterAll(async () => wasm?.close());

  it.skipIf(wasm === undefined)("pools plane ranges on both threads with one thread's values and argmax (flat indices into the whole input)", () => {
    const w = wasm!;
    w.poolParallelMinWindows = 0;
    expect(w.startThreads()).toBeUndefined();
    const rng = new Rng(23, "pool-threads");
    // the policy's 3×3/2 kernel and the generic one; plane counts odd and even; ties and NaNs
    for (const [planes, h, wd, k, st, pd] of [[37, 17, 17, 3, 2, 1], [10, 9, 7, 2, 2, 0], [3, 5, 5, 3, 1, 1]] as const) {
      const x = random(rng, planes * h * wd);
      for (let i = 0; i < x.length; i += 11) x[i] = 0.25;
      x[5] = Number.NaN;
      const a = { planes, h, w: wd, kh: k, kw: k, strideH: st, strideW: st, padH: pd, padW: pd };
      const out = planes * (Math.floor((h + 2 * pd - k) / st) + 1) * (Math.floor((wd + 2 * pd - k) / st) + 1);
      const got = [1, 2].map((t) => {
        w.setThreads(t);
        const y = new Float32Array(out), arg = new Int32Array(out);
        const posted = w.stats.parallelCalls;
        w.maxPool2d(x, y, arg, a);
        expect(w.stats.parallelCalls - posted).toBe(t === 2 ? 1 : 0);
        return { y, arg };
      });
      const y = new Float32Array(out), arg = new Int32Array(out);
      js.maxPool2d(x, y, arg, a);
      for (const g of got) {
        expect(firstDifference(g.y, y)).toBe(-1);
        expect(Array.from(g.arg)).toEqual(Array.from(arg));
      }
    }
  });
});

describe("wasm-resident operands", () => {
  const why = backendUnavailable("wasm");
  it.skipIf(why !== undefined)("convolve and max-pool in place with bit-identical results, across memory growth, on one and two threads and under blas", () => {
    const wasm = new WasmBackend({ parallelMinFlops: 0 });
    const held: Float32Array[] = [];
    // a copy of v in a resident block; after the first few placements a growing product grows the memory (views
    // made before stay valid) and moves the call area above the resident blocks
    let placed = 0;
    const resident = (v: Float32Array): Float32Array => {
      const a = wasm.acquire(v.length)!;
      expect(wasm.owns(a)).toBe(true);
      a.set(v);
      held.push(a);
      if (placed++ < 4) {
        const side = 600 + 200 * placed;
        wasm.matmul(new Float32Array(side * 8), new Float32Array(8 * side), new Float32Array(side * side), { m: side, n: side, k: 8, transA: false, transB: false });
      }
      return a;
    };
    const blas = backendUnavailable("blas") === undefined ? BlasBackend.load() : undefined;
    if (blas !== undefined) blas.convolutionBackend = wasm;
    const shapes: Case[] = [CASES[3]!, { n: 9, c: 16, h: 10, w: 10, o: 32, k: [3, 3], s: [1, 1], p: [1, 1] }];
    for (const backend of [wasm, ...(blas ? [blas] : [])]) {
      for (const threads of [1, 2]) {
        backend.setThreads(threads);
        for (const [ci, c] of shapes.entries()) {
          for (const [fi, f] of FUSIONS.entries()) {
            const a = argsOf(c, f);
            const plain = run(backend, a, f, 13 * ci + fi);
            const inPlace = run(backend, a, f, 13 * ci + fi, resident);
            for (const key of ["y", "x", "weight", "bias", "residual"] as const) {
              const p = plain[key], q = inPlace[key];
              if (p === null || q === null) continue;
              expect(firstDifference(p, q), `${backend.name} ${threads} thread(s) case ${ci} fusion ${fi} ${key}`).toBe(-1);
            }
            for (const v of held.splice(0)) expect(wasm.release(v)).toBe(true);
          }
        }
      }
    }
    // max-pool 3×3/2 (reads around its input: resident blocks carry slack) with resident input and output
    const pool = { planes: 6, h: 9, w: 7, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1 };
    const x = random(new Rng(5), 6 * 9 * 7);
    const y = new Float32Array(6 * 5 * 4), arg = new Int32Array(y.length);
    wasm.maxPool2d(x, y, arg, pool);
    const xr = resident(x), yr = wasm.acquire(y.length)!, argr = wasm.acquireIndices(y.length)!;
    wasm.maxPool2d(xr, yr, argr, pool);
    expect(firstDifference(y, yr)).toBe(-1);
    expect(argr).toEqual(arg);
    // its gradient: the scatter in wasm on resident buffers, the reference loop on ordinary ones — bit-identical,
    // an input that is the maximum of several windows (pooling's overlap) taking each window's gradient in order
    const gy = random(new Rng(6), y.length);
    const gx = random(new Rng(7), x.length);
    const gxr = resident(gx);
    new JsBackend().maxPool2dBackward(gy, arg, gx, y.length);
    wasm.maxPool2dBackward(resident(gy), argr, gxr, y.length);
    expect(new Set(arg).size).toBeLessThan(arg.length); // repeated indices were exercised
    expect(firstDifference(gx, gxr)).toBe(-1);
    // an index outside the input gradient is an error, never a write elsewhere in the memory
    const badArg = wasm.acquireIndices(2)!;
    badArg.set([0, gx.length]);
    expect(() => wasm.maxPool2dBackward(resident(new Float32Array(2)), badArg, resident(new Float32Array(gx.length)), 2)).toThrow(/argmax\[1\] is outside/);
    // released blocks are reused; a second release is refused
    expect(wasm.release(yr)).toBe(true);
    expect(wasm.release(yr)).toBe(false);
    expect(wasm.acquire(y.length)!.byteOffset).toBe(yr.byteOffset);
    void wasm.close();
  });
});
