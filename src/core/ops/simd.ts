// WebAssembly SIMD for the elementwise hot spots of small-MLP training: tanh (the hidden activation of every PPO
// network), its gradient and the Adam update. V8 runs tanh's scalar rational at ~2.5 ns per element; this module
// takes ~0.9 including the copies in and out of its memory (a 4-lane version of the same rational fit, evaluated
// in float32: max abs error 3.4e-7 against Math.tanh, ~6 float32 ulps near ±1, relative error below 1e-6). The
// tanh gradient g·(1 − y²) (~3× faster than V8's loop) runs in float64 lanes in the scalar code's order, so it
// gives the same bits as the scalar fallback. Adam's update runs in float32 lanes, each operation rounded to
// float32 like PyTorch's float32 Adam; adamStep's scalar fallback rounds the same way, so both agree bit for bit. The module is compiled from
// assembly/elementwise.ts by the build (dist/wasm/elementwise.wasm), like every other WebAssembly kernel.

import { readFileSync } from "node:fs";
import { findWasm } from "../kernels/wasm.js";

// the slice of the WebAssembly JS API used here (tsconfig's lib has no WebAssembly types under Node)
interface SimdExports {
  tanhInPlace(ptr: number, n: number): void;
  tanhGrad(g: number, y: number, n: number): void;
  tanhGradColSums(g: number, y: number, n: number, cols: number, acc: number): void;
  adam(p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, c1: number, c2: number, stepSize: number, bc2Sqrt: number, eps: number): void;
}
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: object };
}

/**
 * Elements per call: 32 KB in and out of the module's memory stays in L1/L2 between the copies. The module's
 * memory holds four such regions (tanhGrad's g and y; Adam's parameters, gradients and two moments).
 */
const CHUNK = 8192;

let module: SimdExports | null | undefined;
let view: Float32Array | null = null;
let view2: Float32Array | null = null;
let view3: Float32Array | null = null;
let view4: Float32Array | null = null;
let accView: Float64Array | null = null;

function load(): SimdExports | null {
  if (module !== undefined) return module;
  try {
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    // the build compiles every module with an imported shared memory; this one needs the four CHUNK regions
    const memory = new api.Memory({ initial: Math.ceil((CHUNK * 16) / 65536), maximum: 65536, shared: true });
    const ex = new api.Instance(new api.Module(readFileSync(findWasm("elementwise.wasm"))), { env: { memory } }).exports as unknown as SimdExports;
    view = new Float32Array(memory.buffer, 0, CHUNK);
    view2 = new Float32Array(memory.buffer, CHUNK * 4, CHUNK);
    view3 = new Float32Array(memory.buffer, CHUNK * 8, CHUNK);
    view4 = new Float32Array(memory.buffer, CHUNK * 12, CHUNK);
    accView = new Float64Array(memory.buffer, CHUNK * 8, CHUNK / 2);
    module = ex;
  } catch {
    module = null; // no WebAssembly SIMD (or no built module) here: callers use the scalar fit
  }
  return module;
}

/** Whether tanhSimd runs (WebAssembly with SIMD is available). */
export function simdAvailable(): boolean {
  return load() !== null;
}

/** out[i] = tanh(x[i]) for i < n (out may be x). Returns false, doing nothing, when SIMD is unavailable. */
export function tanhSimd(x: Float32Array, out: Float32Array, n: number): boolean {
  const ex = load();
  if (ex === null) return false;
  const v = view!;
  for (let start = 0; start < n; start += CHUNK) {
    const len = Math.min(CHUNK, n - start);
    v.set(len === CHUNK ? x.subarray(start, start + CHUNK) : x.subarray(start, start + len));
    ex.tanhInPlace(0, len); // lanes past len (up to the next multiple of 4) hold stale values and are not copied out
    out.set(len === CHUNK ? v : v.subarray(0, len), start);
  }
  return true;
}

/**
 * dz[i] = g[i]·(1 − y[i]²) for i < n, the tanh gradient from the output y (dz may be g or y). Bit-identical to the
 * scalar expression evaluated by JS. Returns false, doing nothing, when SIMD is unavailable.
 */
export function tanhGradSimd(g: Float32Array, y: Float32Array, dz: Float32Array, n: number): boolean {
  const ex = load();
  if (ex === null) return false;
  const v = view!, v2 = view2!;
  for (let start = 0; start < n; start += CHUNK) {
    const len = Math.min(CHUNK, n - start);
    v.set(g.subarray(start, start + len));
    v2.set(y.subarray(start, start + len));
    ex.tanhGrad(0, CHUNK * 4, len);
    dz.set(len === CHUNK ? v : v.subarray(0, len), start);
  }
  return true;
}

/**
 * tanhGradSimd over a [rows, cols] block that also adds each column's sum of dz into `colSums` (a bias gradient),
 * in float64 and row order — the same bits as addColumnSums over dz, without reading dz again. Returns false,
 * doing nothing, when SIMD is unavailable or cols is odd or above 4096.
 */
export function tanhGradColSumsSimd(g: Float32Array, y: Float32Array, dz: Float32Array, rows: number, cols: number, colSums: Float32Array): boolean {
  if (cols % 2 !== 0 || cols > CHUNK / 2 || cols === 0) return false;
  const ex = load();
  if (ex === null) return false;
  const v = view!, v2 = view2!, acc = accView!;
  acc.fill(0, 0, cols);
  const n = rows * cols;
  const per = Math.floor(CHUNK / cols) * cols; // whole rows per call
  for (let start = 0; start < n; start += per) {
    const len = Math.min(per, n - start);
    v.set(g.subarray(start, start + len));
    v2.set(y.subarray(start, start + len));
    ex.tanhGradColSums(0, CHUNK * 4, len, cols, CHUNK * 8);
    dz.set(v.subarray(0, len), start);
  }
  for (let j = 0; j < cols; j++) colSums[j]! += acc[j]!;
  return true;
}

/**
 * One Adam step without weight decay over n parameters, in place on P, M and V, in float32 arithmetic (every
 * operation rounded, as PyTorch's float32 Adam): m ← b1·m + (1 − b1)·g; v ← b2·v + ((1 − b2)·g)·g;
 * p ← p − (stepSize·m)/(√v/bc2Sqrt + eps), the constants rounded to float32 first. SIMD when available, else a
 * scalar loop with Math.fround after each operation — the same bits either way.
 */
export function adamStep(
  P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, n: number,
  b1: number, b2: number, stepSize: number, bc2Sqrt: number, eps: number,
): void {
  const ex = load();
  if (ex === null) {
    adamStepScalar(P, G, M, V, n, b1, b2, stepSize, bc2Sqrt, eps);
    return;
  }
  const f = Math.fround;
  const fb1 = f(b1), fb2 = f(b2), c1 = f(1 - b1), c2 = f(1 - b2), fs = f(stepSize), fbc = f(bc2Sqrt), feps = f(eps);
  const vp = view!, vg = view2!, vm = view3!, vv = view4!;
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    const len = end - start;
    vp.set(P.subarray(start, end));
    vg.set(G.subarray(start, end));
    vm.set(M.subarray(start, end));
    vv.set(V.subarray(start, end));
    ex.adam(0, CHUNK * 4, CHUNK * 8, CHUNK * 12, len, fb1, fb2, c1, c2, fs, fbc, feps);
    P.set(len === CHUNK ? vp : vp.subarray(0, len), start);
    M.set(len === CHUNK ? vm : vm.subarray(0, len), start);
    V.set(len === CHUNK ? vv : vv.subarray(0, len), start);
  }
}

/** adamStep without WebAssembly: the same float32 arithmetic, one Math.fround per operation. */
export function adamStepScalar(
  P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, n: number,
  b1: number, b2: number, stepSize: number, bc2Sqrt: number, eps: number,
): void {
  const f = Math.fround;
  const fb1 = f(b1), fb2 = f(b2), c1 = f(1 - b1), c2 = f(1 - b2), fs = f(stepSize), fbc = f(bc2Sqrt), feps = f(eps);
  for (let j = 0; j < n; j++) {
    const g = G[j]!;
    const mj = f(f(fb1 * M[j]!) + f(c1 * g));
    const vj = f(f(fb2 * V[j]!) + f(f(c2 * g) * g));
    M[j] = mj;
    V[j] = vj;
    P[j] = f(P[j]! - f(f(fs * mj) / f(f(f(Math.sqrt(vj)) / fbc) + feps)));
  }
}
