// The row-product convolution of small images (conv_rows.ts): its wasm passes against the js passes bit for bit
// on odd geometries (channel counts off multiples of 4, strides, paddings, 1×1 images, rectified inputs with −0
// and NaN), the whole path against the float64 js reference (every fusion, blocks of a few images), by finite
// differences through the conv2d op, the same bits with operands resident in the wasm memory or not, and the
// same bits on one and two threads.
import { describe, expect, it } from "vitest";
import { backendUnavailable, getBackend } from "../../../src/core/kernels/index.js";
import { BlasBackend } from "../../../src/core/kernels/blas.js";
import { jsDensePasses } from "../../../src/core/kernels/conv_dense.js";
import { type RowGeometry, jsRowPasses, rowsConv2d, rowsConv2dBackward, rowsConvFits } from "../../../src/core/kernels/conv_rows.js";
import { JsBackend } from "../../../src/core/kernels/js.js";
import { type Conv2dArgs, windowOutputSize } from "../../../src/core/kernels/types.js";
import type { WasmBackend } from "../../../src/core/kernels/wasm.js";
import { conv2d } from "../../../src/core/ops/conv.js";
import { Rng } from "../../../src/core/rng.js";
import { gradcheck, randInputs } from "../gradcheck.js";
import { expectCaseAgrees, expectClose, expectSameBits, runConvCase } from "./conv_case.js";

const js = new JsBackend();
const jsGemm = js.matmul.bind(js);

const SHAPES: Conv2dArgs[] = [
  { n: 3, c: 5, h: 5, w: 5, o: 7, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false },
  { n: 2, c: 3, h: 1, w: 1, o: 5, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // 1×1 image
  { n: 4, c: 17, h: 6, w: 5, o: 16, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false },
  { n: 2, c: 6, h: 5, w: 6, o: 9, kh: 3, kw: 2, strideH: 2, strideW: 1, padH: 1, padW: 0, reluInput: false, relu: false }, // strides, uneven padding
  { n: 2, c: 4, h: 4, w: 3, o: 3, kh: 5, kw: 5, strideH: 1, strideW: 3, padH: 2, padW: 2, reluInput: false, relu: false }, // kernel larger than the image
  { n: 5, c: 32, h: 5, w: 5, o: 32, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, // maze-cheese's 5×5 stage
];
const FUSIONS = [
  { reluInput: false, relu: false, bias: false, residual: false },
  { reluInput: true, relu: true, bias: true, residual: false },
  { reluInput: false, relu: true, bias: true, residual: true },
  { reluInput: true, relu: false, bias: false, residual: true },
];

function random(rng: Rng, n: number): Float32Array {
  const v = rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
  // exact zeros and −0 where a ReLU decides (rectified to +0; −0 kept where nothing is added)
  for (let i = 0; i < n; i += 7) v[i] = i % 14 === 0 ? 0 : -0;
  return v;
}

function geometry(a: Conv2dArgs): RowGeometry {
  const [ho, wo] = windowOutputSize(a);
  return { c: a.c, h: a.h, w: a.w, o: a.o, kh: a.kh, kw: a.kw, strideH: a.strideH, strideW: a.strideW, padH: a.padH, padW: a.padW, ho, wo };
}


/** Forward and backward through `conv`/`backward`, every gradient starting from the same random values. */
function run(
  a: Conv2dArgs, f: (typeof FUSIONS)[number], seed: number,
  conv: Parameters<typeof runConvCase>[4], backward: Parameters<typeof runConvCase>[5], place?: (v: Float32Array) => Float32Array,
) {
  return runConvCase(a, f, new Rng(seed, "rows-case"), random, conv, backward, place);
}

describe("row-product convolution (js passes, js GEMM)", () => {
  it("matches the float64 reference on odd shapes, every fusion, in blocks of one to a few images", () => {
    for (const [si, shape] of SHAPES.entries()) {
      for (const [fi, f] of FUSIONS.entries()) {
        const a = { ...shape, reluInput: f.reluInput, relu: f.relu };
        for (const blockFloats of [1, 700, 1 << 20]) {
          const tag = `shape ${si} fusion ${fi} block ${blockFloats}`;
          const want = run(a, f, 10 * si + fi, (x, w, b, r, y) => js.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => js.conv2dBackward(x, w, y, gy, g, a));
          const got = run(a, f, 10 * si + fi,
            (x, w, b, r, y) => rowsConv2d(jsGemm, x, w, b, r, y, a, jsRowPasses, () => true, blockFloats),
            (x, w, y, gy, g) => rowsConv2dBackward(jsGemm, x, w, y, gy, g, a, jsRowPasses, jsDensePasses, () => true, blockFloats));
          for (const key of ["y", "x", "weight", "bias", "residual"] as const) expectClose(got[key], want[key], `${tag} ${key}`);
        }
      }
    }
  });

  it("fits images above nothing and up to its pixel bound", () => {
    const a = SHAPES[5]!;
    expect(rowsConvFits(a)).toBe(true);
    expect(rowsConvFits({ ...a, h: 9, w: 9 })).toBe(false);
    expect(rowsConvFits(a, 24)).toBe(false);
  });
});

const wasmWhy = backendUnavailable("wasm");

describe.skipIf(wasmWhy !== undefined)("row-product passes in wasm", () => {
  it("compute the js passes' very bits on odd geometries, in place and through the call area", () => {
    const wasm = getBackend("wasm") as WasmBackend;
    const P = wasm.rowPasses;
    const rng = new Rng(3, "row-passes");
    for (const [si, shape] of SHAPES.entries()) {
      const g = geometry(shape);
      const L = g.ho * g.wo;
      const K = g.c * g.kh * g.kw;
      const padLen = (g.h + 2 * g.padH) * (g.w + 2 * g.padW) * g.c;
      const N = shape.n + 2;
      const n0 = 1;
      const count = shape.n;
      for (const resident of [false, true]) {
        const place = (v: Float32Array): Float32Array => {
          if (!resident) return v;
          const r = wasm.acquire(v.length)!;
          r.set(v);
          return r;
        };
        const tag = `shape ${si}${resident ? " resident" : ""}`;
        const x = place(random(rng, N * g.c * g.h * g.w));
        x[5] = Number.NaN;
        for (const relu of [false, true]) {
          const a = place(new Float32Array(count * padLen).fill(7)), b = place(new Float32Array(count * padLen).fill(7));
          jsRowPasses.pad(x, n0, count, a, g, relu);
          P.pad(x, n0, count, b, g, relu);
          expectSameBits(a, b, `${tag} pad relu ${relu}`);
          const ra = place(new Float32Array(count * L * K)), rb = place(new Float32Array(count * L * K));
          jsRowPasses.im2row(a, ra, count, g);
          P.im2row(b, rb, count, g);
          expectSameBits(ra, rb, `${tag} im2row`);
        }
        const t = place(random(rng, g.o * count * L));
        const bias = random(rng, g.o);
        const res = place(random(rng, N * g.o * L));
        for (const [bi, rr, relu] of [[null, null, false], [bias, res, true], [bias, null, true], [null, res, false]] as const) {
          const ya = place(random(new Rng(9), N * g.o * L)), yb = place(ya.slice());
          jsRowPasses.epilogue(t, ya, bi, rr, n0, count, g, relu);
          P.epilogue(t, yb, bi, rr, n0, count, g, relu);
          expectSameBits(ya, yb, `${tag} epilogue`);
        }
        const gz = place(random(rng, N * g.o * L));
        const ta = place(new Float32Array(g.o * count * L)), tb = place(new Float32Array(g.o * count * L));
        jsRowPasses.gather(gz, n0, count, ta, g);
        P.gather(gz, n0, count, tb, g);
        expectSameBits(ta, tb, `${tag} gather`);
        const rows = place(random(rng, count * L * K));
        const ga = place(new Float32Array(count * padLen)), gb = place(new Float32Array(count * padLen));
        jsRowPasses.row2im(rows, ga, count, g);
        P.row2im(rows, gb, count, g);
        // only the interior is defined (the border is never read back)
        const interior = (v: Float32Array): Float32Array => {
          const out: number[] = [];
          const wp = g.w + 2 * g.padW;
          for (let img = 0; img < count; img++) for (let h = 0; h < g.h; h++) for (let w = 0; w < g.w; w++) for (let c = 0; c < g.c; c++) out.push(v[img * padLen + ((h + g.padH) * wp + w + g.padW) * g.c + c]!);
          return Float32Array.from(out);
        };
        expectSameBits(interior(ga), interior(gb), `${tag} row2im`);
        for (const mask of [null, x]) {
          const gxa = place(random(new Rng(4), N * g.c * g.h * g.w)), gxb = place(gxa.slice());
          jsRowPasses.unpadAdd(ga, gxa, mask, n0, count, g);
          P.unpadAdd(ga, gxb, mask, n0, count, g);
          expectSameBits(gxa, gxb, `${tag} unpadAdd ${mask ? "masked" : ""}`);
        }
      }
    }
  });
});

const blasWhy = backendUnavailable("blas");

describe.skipIf(blasWhy !== undefined || wasmWhy !== undefined)("blas conv2d as row products", () => {
  it("matches the js reference, gives the same bits with its operands resident or not, and on one and two threads", () => {
    const blas = BlasBackend.load();
    blas.useOneDnn = false; // this path, not oneDNN's (onednn.test.ts)
    const wasm = getBackend("wasm") as WasmBackend;
    blas.convolutionBackend = wasm;
    blas.rowsMaxPixels = 1000; // every shape here, whatever its size
    blas.rowsBlockFloats = 2000; // blocks of a few images
    const resident = (v: Float32Array): Float32Array => {
      const r = wasm.acquire(v.length)!;
      r.set(v);
      return r;
    };
    for (const [si, shape] of SHAPES.entries()) {
      for (const [fi, f] of FUSIONS.entries()) {
        const a = { ...shape, reluInput: f.reluInput, relu: f.relu };
        if (!rowsConvFits(a, blas.rowsMaxPixels) || a.h * a.w <= 2 * a.kh * a.kw) continue; // the dense product's sizes
        const tag = `shape ${si} fusion ${fi}`;
        const conv = (x: Float32Array, w: Float32Array, b: Float32Array | null, r: Float32Array | null, y: Float32Array): void => blas.conv2d(x, w, b, r, y, a);
        const back = (x: Float32Array, w: Float32Array, y: Float32Array, gy: Float32Array, g: Parameters<typeof blas.conv2dBackward>[4]): void => blas.conv2dBackward(x, w, y, gy, g, a);
        const want = run(a, f, 20 * si + fi, (x, w, b, r, y) => js.conv2d(x, w, b, r, y, a), (x, w, y, gy, g) => js.conv2dBackward(x, w, y, gy, g, a));
        blas.setThreads(1);
        const one = run(a, f, 20 * si + fi, conv, back);
        const inPlace = run(a, f, 20 * si + fi, conv, back, resident);
        blas.setThreads(2);
        const two = run(a, f, 20 * si + fi, conv, back);
        expectCaseAgrees(want, one, { resident: inPlace, "two threads": two }, tag);
      }
    }
  });

  it("passes a finite-difference check through the conv2d op (5×5 images, every input)", () => {
    const blas = getBackend("blas") as BlasBackend;
    expect(rowsConvFits({ n: 2, c: 3, h: 5, w: 5, o: 4, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false }, blas.rowsMaxPixels)).toBe(true);
    const inputs = randInputs([[2, 3, 5, 5], [4, 3, 3, 3], [4], [2, 4, 5, 5]], 11);
    gradcheck((x, w, b, r) => conv2d(x!, w!, b!, { padding: 1, residual: r!, relu: false }), inputs, { eps: 1e-2 });
  });
});
