// oneDNN's convolutions (onednn.ts) inside the blas backend: against the float64 js reference on odd shapes (1×1
// images, channel counts off multiples of 4, 8 and 16, strides, uneven padding, kernels larger than the image) with
// every fusion, by finite differences through the conv2d op, the same bits on one and two threads and with operands
// resident in the wasm memory or not; and the fallback when the library is missing: the blas backend says why and
// convolves on its own path. (An image's bits can depend on the batch it is convolved in — oneDNN blocks the batch —
// so PPO's shards are cut by its config, not by the thread count: test/rl/shards.test.ts checks 1 against 2 threads.)
import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";
import { BlasBackend } from "../../../src/core/kernels/blas.js";
import { backendUnavailable, getBackend } from "../../../src/core/kernels/index.js";
import { JsBackend } from "../../../src/core/kernels/js.js";
import { type KoffiApi, OneDnn, oneDnnTakes } from "../../../src/core/kernels/onednn.js";
import { type Conv2dArgs, windowOutputSize } from "../../../src/core/kernels/types.js";
import type { WasmBackend } from "../../../src/core/kernels/wasm.js";
import { conv2d } from "../../../src/core/ops/conv.js";
import { Rng } from "../../../src/core/rng.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";
import { expectCaseAgrees, expectClose, expectSameBits, runConvCase } from "./conv_case.js";

const js = new JsBackend();
const blasWhy = backendUnavailable("blas");
const wasmWhy = backendUnavailable("wasm");
/** A blas backend of its own (oneDNN loaded lazily), or why none. */
function freshBlas(): BlasBackend {
  const b = BlasBackend.load();
  if (wasmWhy === undefined) b.convolutionBackend = getBackend("wasm");
  return b;
}
const dnnWhy = blasWhy ?? (() => {
  const b = freshBlas();
  return b.oneDnn === undefined ? b.oneDnnStatus : undefined;
})();
if (dnnWhy !== undefined) console.warn(`oneDNN convolution tests skipped: ${dnnWhy}`);

const SHAPES: Conv2dArgs[] = [
  { n: 3, c: 5, h: 5, w: 5, o: 7, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false },
  { n: 2, c: 3, h: 1, w: 1, o: 5, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // 1×1 image
  { n: 4, c: 17, h: 3, w: 6, o: 33, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // channels past 16 and 32
  { n: 2, c: 6, h: 5, w: 6, o: 9, kh: 3, kw: 2, strideH: 2, strideW: 1, padH: 1, padW: 0, reluInput: false, relu: false }, // strides, uneven padding
  { n: 2, c: 4, h: 4, w: 3, o: 3, kh: 5, kw: 5, strideH: 1, strideW: 3, padH: 2, padW: 2, reluInput: false, relu: false }, // kernel larger than the image
  { n: 5, c: 32, h: 5, w: 5, o: 32, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // maze-cheese's 5×5 stage
  { n: 3, c: 3, h: 7, w: 9, o: 16, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // a first layer (3 channels)
];
const FUSIONS = [
  { reluInput: false, relu: false, bias: false, residual: false },
  { reluInput: true, relu: true, bias: true, residual: false },
  { reluInput: false, relu: true, bias: true, residual: true },
  { reluInput: true, relu: false, bias: false, residual: true },
  { reluInput: false, relu: false, bias: true, residual: false }, // the bias added by oneDNN's convolution itself
  { reluInput: true, relu: false, bias: true, residual: false },
];

function random(rng: Rng, n: number): Float32Array {
  const v = rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
  for (let i = 0; i < n; i += 7) v[i] = i % 14 === 0 ? 0 : -0; // zeros where a ReLU decides
  return v;
}


const KEYS = ["y", "x", "weight", "bias", "residual"] as const;

describe.skipIf(dnnWhy !== undefined)("oneDNN conv2d in the blas backend", () => {
  it("matches the js reference on odd shapes with every fusion, with the same bits on one and two threads and resident or not", () => {
    const blas = freshBlas();
    const dnn = blas.oneDnn!;
    const wasm = wasmWhy === undefined ? (getBackend("wasm") as WasmBackend) : undefined;
    const resident = (v: Float32Array): Float32Array => {
      const r = wasm?.acquire(v.length);
      if (r === undefined) return v;
      r.set(v);
      return r;
    };
    for (const [si, shape] of SHAPES.entries()) {
      for (const [fi, f] of FUSIONS.entries()) {
        const a = { ...shape, reluInput: f.reluInput, relu: f.relu };
        expect(dnn.fits(a), `shape ${si}: ${String(dnn.implementations(a))}`).toBe(true);
        const tag = `shape ${si} fusion ${fi}`;
        const run = (backend: { conv2d: BlasBackend["conv2d"]; conv2dBackward: BlasBackend["conv2dBackward"] }, place?: (v: Float32Array) => Float32Array) =>
          runConvCase(a, f, new Rng(10 * si + fi, "onednn-case"), random,
            (x, w, b, r, y) => backend.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => backend.conv2dBackward(x, w, y, gy, g, a), place);
        const want = run(js);
        blas.setThreads(1);
        const one = run(blas);
        const inPlace = run(blas, resident);
        blas.setThreads(2);
        const two = run(blas);
        expectCaseAgrees(want, one, { resident: inPlace, "two threads": two }, tag);
      }
    }
  });

  it("passes a finite-difference check through the conv2d op (every input, both ReLUs)", () => {
    const blas = getBackend("blas") as BlasBackend;
    expect(blas.oneDnn).toBeDefined();
    const inputs = randInputs([[2, 3, 5, 4], [4, 3, 3, 3], [4], [2, 4, 5, 4]], 13);
    gradcheck((x, w, b, r) => conv2d(x!, w!, b!, { padding: 1, residual: r!, relu: false }), inputs, { eps: 1e-2 });
    // the ReLUs away from their kinks: inputs of magnitude ≥ 0.2 and a step of 1e-2
    const rng = new Rng(17, "kinks");
    const away = (shape: number[]) => {
      const v = rng.fillUniform(new Float32Array(shape.reduce((p, q) => p * q, 1)), 0.2, 1) as Float32Array;
      for (let i = 0; i < v.length; i += 2) v[i] = -v[i]!;
      return tensor(v, shape).requireGrad();
    };
    gradcheck((x, w) => conv2d(x!, w!, null, { padding: 1, reluInput: true, relu: false }), [away([2, 5, 3, 6]), away([3, 5, 3, 3])], { eps: 1e-2 });
  });

  it("runs on one OpenMP thread whatever this thread's OpenMP setting, and leaves the setting as it found it", () => {
    const gomp = (createRequire(import.meta.url)("koffi") as { load(name: string): { func(sig: string): (...a: unknown[]) => unknown } }).load("libgomp.so.1");
    const set = gomp.func("void omp_set_num_threads(int)"), get = gomp.func("int omp_get_max_threads()");
    const blas = freshBlas();
    const before = get();
    const a = { ...SHAPES[2]!, n: 9, reluInput: true, relu: true };
    const f = FUSIONS[1]!;
    const run = () => runConvCase(a, f, new Rng(3, "omp"), random, (x, w, b, r, y) => blas.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => blas.conv2dBackward(x, w, y, gy, g, a));
    try {
      set(1);
      const one = run();
      set(2);
      const two = run();
      expect(get()).toBe(2);
      expectCaseAgrees(one, one, { "OpenMP at two threads": two }, "omp");
    } finally {
      set(before);
    }
  });

  it("leaves small images in large batches to our dense product (CONV_RULE), with that path's very bits", () => {
    const blas = freshBlas();
    const dnn = blas.oneDnn!;
    const passes = (blas as unknown as { densePasses: Parameters<OneDnn["conv2d"]>[6] }).densePasses;
    const f = FUSIONS[2]!;
    for (const [n, oneDnn] of [[256, false], [255, true], [8, true]] as const) {
      const a: Conv2dArgs = { n, c: 5, h: 2, w: 3, o: 7, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: f.reluInput, relu: f.relu };
      expect(oneDnnTakes(a), `batch ${n}`).toBe(oneDnn);
      expect(oneDnnTakes({ ...a, h: 3 })).toBe(true); // 9 pixels: oneDNN at any batch
      const run = (conv: (x: Float32Array, w: Float32Array, b: Float32Array | null, r: Float32Array | null, y: Float32Array) => void, backward: Parameters<typeof runConvCase>[5]) =>
        runConvCase(a, f, new Rng(n, "rule"), random, conv, backward);
      const viaRule = run((x, w, b, r, y) => blas.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => blas.conv2dBackward(x, w, y, gy, g, a));
      const path = oneDnn
        ? run((x, w, b, r, y) => dnn.conv2d(x, w, b, r, y, a, passes), (x, w, y, gy, g) => dnn.conv2dBackward(x, w, y, gy, g, a, passes))
        : (() => {
            blas.useOneDnn = false;
            try {
              return run((x, w, b, r, y) => blas.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => blas.conv2dBackward(x, w, y, gy, g, a));
            } finally {
              blas.useOneDnn = true;
            }
          })();
      const want = run((x, w, b, r, y) => js.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => js.conv2dBackward(x, w, y, gy, g, a));
      expectCaseAgrees(want, viaRule, { [oneDnn ? "oneDNN" : "dense product"]: path }, `batch ${n}`);
    }
  });

  it("fuses a convolution with its max-pool: the unfused output's bits, the reference's gradients, exact on ties, one thread's bits on two", () => {
    const blas = freshBlas();
    const pool = { kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1 };
    const shapes: Conv2dArgs[] = [SHAPES[0]!, SHAPES[1]!, SHAPES[2]!, SHAPES[3]!, SHAPES[6]!, { ...SHAPES[6]!, n: 4, h: 17, w: 17 }];
    for (const [si, shape] of shapes.entries()) {
      for (const [pattern, bias] of [[0, true], [1, true], [0, false]] as const) {
        const a = { ...shape, reluInput: false, relu: false };
        const [ho, wo] = windowOutputSize(a);
        const [po, qo] = windowOutputSize({ h: ho, w: wo, ...pool });
        const rng = new Rng(100 * si + 10 * pattern + (bias ? 1 : 0), "conv-pool");
        // pattern 1: small integers, so every window has ties and every sum is exact in any order
        const draw = (n: number): Float32Array => (pattern === 0 ? random(rng, n) : Float32Array.from({ length: n }, () => rng.int(3) - 1));
        const x = draw(a.n * a.c * a.h * a.w), w = draw(a.o * a.c * a.kh * a.kw), b = bias ? draw(a.o) : null;
        const gPooled = draw(a.n * a.o * po * qo);
        // the reference: conv, max-pool, the pool's scatter and the conv's backward on the js kernels
        const y = new Float32Array(a.n * a.o * ho * wo), want = new Float32Array(gPooled.length), arg = new Int32Array(gPooled.length);
        js.conv2d(x, w, b, null, y, a);
        js.maxPool2d(y, want, arg, { planes: a.n * a.o, h: ho, w: wo, ...pool });
        const gy = new Float32Array(y.length);
        js.maxPool2dBackward(gPooled, arg, gy, gPooled.length);
        const ref = { x: new Float32Array(x.length), weight: new Float32Array(w.length), bias: b && new Float32Array(a.o), residual: null };
        js.conv2dBackward(x, w, y, gy, ref, a);
        // the unfused blas path's pooled output (its own conv, our max-pool)
        const unfused = new Float32Array(gPooled.length);
        const yb = new Float32Array(y.length);
        blas.conv2d(x, w, b, null, yb, a);
        blas.maxPool2d(yb, unfused, new Int32Array(gPooled.length), { planes: a.n * a.o, h: ho, w: wo, ...pool });
        const fused = (threads: number) => {
          blas.setThreads(threads);
          const pooled = new Float32Array(gPooled.length);
          const state = blas.conv2dMaxPool(x, w, b, pooled, a, pool);
          expect(state, `shape ${si}: fused`).not.toBeNull();
          const grads = { x: new Float32Array(x.length), weight: new Float32Array(w.length), bias: b && new Float32Array(a.o), residual: null };
          blas.conv2dMaxPoolBackward(state!, x, w, gPooled, grads, a);
          blas.releaseConvPool(state!);
          return { y: pooled, ...grads };
        };
        const [one, two] = [fused(1), fused(2)];
        const tag = `shape ${si} pattern ${pattern} bias ${bias}`;
        expectSameBits(one.y, unfused, `${tag} pooled`);
        for (const key of ["x", "weight", "bias"] as const) {
          if (pattern === 1 && one[key] !== null) expectSameBits(one[key]!, ref[key]!, `${tag} ${key} (exact)`);
          expectClose(one[key], ref[key], `${tag} ${key}`);
          if (one[key] !== null) expectSameBits(two[key]!, one[key]!, `${tag} ${key} two threads`);
        }
      }
    }
    // the ReLU fusions are not fused with a pool: the caller pools on its own
    expect(blas.conv2dMaxPool(new Float32Array(75 * 3), new Float32Array(63 * 5), null, new Float32Array(84), { ...SHAPES[0]!, reluInput: true, relu: false }, pool)).toBeNull();
  });

  it("builds primitives once per geometry and names the implementations it chose", () => {
    const dnn = freshBlas().oneDnn!;
    const a = SHAPES[5]!;
    const impl = dnn.implementations(a);
    expect(impl).toHaveLength(3);
    expect(impl).toBe(dnn.implementations(a)); // the cached plan's array
    expect(dnn.fits({ ...a, n: 0 })).toBe(false);
  });
});

describe.skipIf(blasWhy !== undefined)("oneDNN missing", () => {
  const saved = process.env.MESA_DNNL_LIB;
  afterEach(() => {
    if (saved === undefined) delete process.env.MESA_DNNL_LIB;
    else process.env.MESA_DNNL_LIB = saved;
  });

  it("leaves the blas backend convolving on its own path, saying why", () => {
    process.env.MESA_DNNL_LIB = "/nonexistent/libdnnl.so.2";
    const blas = freshBlas();
    expect(blas.oneDnn).toBeUndefined();
    expect(blas.oneDnnStatus).toMatch(/no oneDNN 2\.x library found \(tried \/nonexistent\/libdnnl\.so\.2\).*MESA_DNNL_LIB/);
    for (const [fi, f] of FUSIONS.entries()) {
      const a = { ...SHAPES[5]!, reluInput: f.reluInput, relu: f.relu };
      const run = (backend: JsBackend | BlasBackend) =>
        runConvCase(a, f, new Rng(fi, "fallback"), random, (x, w, b, r, y) => backend.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => backend.conv2dBackward(x, w, y, gy, g, a));
      const want = run(js), got = run(blas);
      for (const key of KEYS) expectClose(got[key], want[key], `fusion ${fi} ${key}`);
    }
  });

  it("is turned off by useOneDnn (MESA_ONEDNN=0), and a library of another major version is refused", () => {
    const blas = freshBlas();
    blas.useOneDnn = false;
    expect(blas.oneDnn).toBeUndefined();
    expect(blas.oneDnnStatus).toMatch(/turned off/);
    const lib = { func: (sig: string) => (sig.includes("dnnl_version") ? () => ({}) : () => 0) };
    process.env.MESA_DNNL_LIB = "fake-libdnnl.so";
    const fake = { load: () => lib, opaque: () => ({}), struct: () => ({}), decode: () => ({ major: 3, minor: 0, patch: 0 }) } as unknown as KoffiApi;
    expect(() => OneDnn.load(fake)).toThrow(/oneDNN 3\.0\.0; the convolution path speaks the 2\.x API/);
  });
});
