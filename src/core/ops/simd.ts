// WebAssembly SIMD for the elementwise hot spots of small-MLP training: tanh (the hidden activation of every PPO
// network), its gradient and the Adam update. V8 runs tanh's scalar rational at ~2.5 ns per element; this module
// takes ~0.9 including the copies in and out of its memory (a 4-lane version of the same rational fit, evaluated
// in float32: max abs error 3.4e-7 against Math.tanh, ~6 float32 ulps near ±1, relative error below 1e-6). The
// tanh gradient g·(1 − y²) (~3× faster than V8's loop) runs in float64 lanes in the scalar code's order, so it
// gives the same bits as the scalar fallback. Adam's update runs in float32 lanes, each operation rounded to
// float32 like PyTorch's float32 Adam; adamStep's scalar fallback rounds the same way, so both agree bit for bit. The binary is embedded below;
// test/core/ops/simd.test.ts recompiles SIMD_SOURCE with asc and checks it is identical.

/** AssemblyScript source of the embedded module (compiled with SIMD_ASC_FLAGS). */
export const SIMD_SOURCE = `// f32x4 tanh in place over n floats at ptr (lanes up to the next multiple of 4 are computed too, so the buffer
// must extend that far), and the tanh gradient g·(1 − y²) in float64 lanes, written over g
export function tanhInPlace(ptr: usize, n: i32): void {
  const hi = f32x4.splat(7.90531110763549805);
  const lo = f32x4.splat(-7.90531110763549805);
  const a1 = f32x4.splat(-2.76076847742355e-16 as f32);
  const a3 = f32x4.splat(2.00018790482477e-13 as f32);
  const a5 = f32x4.splat(-8.60467152213735e-11 as f32);
  const a7 = f32x4.splat(5.12229709037114e-8 as f32);
  const a9 = f32x4.splat(1.48572235717979e-5 as f32);
  const a11 = f32x4.splat(6.37261928875436e-4 as f32);
  const a13 = f32x4.splat(4.89352455891786e-3 as f32);
  const b0 = f32x4.splat(1.19825839466702e-6 as f32);
  const b2 = f32x4.splat(1.18534705686654e-4 as f32);
  const b4 = f32x4.splat(2.268434632439e-3 as f32);
  const b6 = f32x4.splat(4.89352518554385e-3 as f32);
  const end = ptr + ((<usize>n) << 2);
  for (let p = ptr; p < end; p += 16) {
    const x = v128.load(p);
    const c = f32x4.pmax(f32x4.pmin(x, hi), lo);
    const x2 = f32x4.mul(c, c);
    let q = f32x4.add(f32x4.mul(a1, x2), a3);
    q = f32x4.add(f32x4.mul(q, x2), a5);
    q = f32x4.add(f32x4.mul(q, x2), a7);
    q = f32x4.add(f32x4.mul(q, x2), a9);
    q = f32x4.add(f32x4.mul(q, x2), a11);
    q = f32x4.add(f32x4.mul(q, x2), a13);
    let d = f32x4.add(f32x4.mul(b0, x2), b2);
    d = f32x4.add(f32x4.mul(d, x2), b4);
    d = f32x4.add(f32x4.mul(d, x2), b6);
    v128.store(p, f32x4.div(f32x4.mul(q, c), d));
  }
}

// g[i] = g[i]·(1 − y[i]²) for n floats (computed in pairs, so an odd n touches one more): float64 arithmetic
// rounded once to float32, the same bits as the scalar JS expression
export function tanhGrad(g: usize, y: usize, n: i32): void {
  const one = f64x2.splat(1.0);
  const end = g + ((<usize>n) << 2);
  for (; g < end; g += 8, y += 8) {
    const gv = f64x2.promote_low_f32x4(v128.load64_zero(g));
    const yv = f64x2.promote_low_f32x4(v128.load64_zero(y));
    v128.store64_lane(g, f32x4.demote_f64x2_zero(f64x2.mul(gv, f64x2.sub(one, f64x2.mul(yv, yv)))), 0);
  }
}

// One Adam step without weight decay over n parameters, four float32 lanes at a time (lanes up to the next
// multiple of 4 are computed too): m ← b1·m + (1 − b1)·g; v ← b2·v + ((1 − b2)·g)·g; p ← p − (s·m)/(√v/c + eps),
// every operation rounded to float32 as PyTorch's float32 Adam does (1 − b1, 1 − b2 formed in float64 first)
export function adam(p: usize, g: usize, m: usize, v: usize, n: i32, b1: f32, b2: f32, c1: f32, c2: f32, stepSize: f32, bc2Sqrt: f32, eps: f32): void {
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const vs = f32x4.splat(stepSize);
  const vbc = f32x4.splat(bc2Sqrt);
  const veps = f32x4.splat(eps);
  const end = p + ((<usize>n) << 2);
  for (; p < end; p += 16, g += 16, m += 16, v += 16) {
    const gv = v128.load(g);
    const mj = f32x4.add(f32x4.mul(vb1, v128.load(m)), f32x4.mul(vc1, gv));
    const vj = f32x4.add(f32x4.mul(vb2, v128.load(v)), f32x4.mul(f32x4.mul(vc2, gv), gv));
    v128.store(m, mj);
    v128.store(v, vj);
    const upd = f32x4.div(f32x4.mul(vs, mj), f32x4.add(f32x4.div(f32x4.sqrt(vj), vbc), veps));
    v128.store(p, f32x4.sub(v128.load(p), upd));
  }
}

// tanhGrad over whole rows of an even width cols, also adding each column's sum of the (float32-rounded) results
// into float64 accumulators at acc: row order per column, the same bits as a separate column-sum pass in float64
export function tanhGradColSums(g: usize, y: usize, n: i32, cols: i32, acc: usize): void {
  const one = f64x2.splat(1.0);
  const end = g + ((<usize>n) << 2);
  const rowBytes = (<usize>cols) << 2;
  while (g < end) {
    const rowEnd = g + rowBytes;
    for (let a = acc; g < rowEnd; g += 8, y += 8, a += 16) {
      const gv = f64x2.promote_low_f32x4(v128.load64_zero(g));
      const yv = f64x2.promote_low_f32x4(v128.load64_zero(y));
      const d = f32x4.demote_f64x2_zero(f64x2.mul(gv, f64x2.sub(one, f64x2.mul(yv, yv))));
      v128.store64_lane(g, d, 0);
      v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(d)));
    }
  }
}
`;

export const SIMD_ASC_FLAGS: readonly string[] = ["-O3", "--enable", "simd", "--runtime", "stub", "--initialMemory", "2"];

export const SIMD_WASM_BASE64 = "AGFzbQEAAAABIwRgAn9/AGAFf39/f38AYAN/f38AYAx/f39/f319fX19fX0AAwUEAAECAwUDAQACBzwFC3RhbmhJblBsYWNlAAAIdGFuaEdyYWQAAgRhZGFtAAMPdGFuaEdyYWRDb2xTdW1zAAEGbWVtb3J5AgAKzgYE9QIBAnsgACABQQJ0aiEBA0AgACABSQRAIAD9DMAln6XAJZ+lwCWfpcAln6UgAP0ABAD9DE/4/EBP+PxAT/j8QE/4/ED96gH9DE/4/MBP+PzAT/j8wE/4/MD96wEiAyAD/eYBIgL95gH9DH4zYSp+M2EqfjNhKn4zYSr95AEgAv3mAf0M/ze9rv83va7/N72u/ze9rv3kASAC/eYB/QxBAFwzQQBcM0EAXDNBAFwz/eQBIAL95gH9DEpDeTdKQ3k3SkN5N0pDeTf95AEgAv3mAf0M7Q0nOu0NJzrtDSc67Q0nOv3kASAC/eYB/QzcWaA73FmgO9xZoDvcWaA7/eQBIAP95gH9DNjToDXY06A12NOgNdjToDUgAv3mAf0M1pX4ONaV+DjWlfg41pX4OP3kASAC/eYB/QwFqhQ7BaoUOwWqFDsFqhQ7/eQBIAL95gH9DN1ZoDvdWaA73VmgO91ZoDv95AH95wH9CwQAIABBEGohAAwBCwsLngECAXsCfyAAIAJBAnRqIQYgA0ECdCEDA0AgACAGSQRAIAAgA2ohByAEIQIDQCAAIAdJBEAgACAA/V0DAP1f/QwAAAAAAADwPwAAAAAAAPA/IAH9XQMA/V8iBSAF/fIB/fEB/fIB/V4iBf1bAwAAIAIgAv0ABAAgBf1f/fAB/QsEACAAQQhqIQAgAUEIaiEBIAJBEGohAgwBCwsMAQsLC2EBAXsgACACQQJ0aiECA0AgACACSQRAIAAgAP1dAwD9X/0MAAAAAAAA8D8AAAAAAADwPyAB/V0DAP1fIgMgA/3yAf3xAf3yAf1e/VsDAAAgAEEIaiEAIAFBCGohAQwBCwsL0gEBCXsgBf0TIQ0gBv0TIQ4gB/0TIQ8gCP0TIRAgCf0TIREgCv0TIRIgC/0TIRMgACAEQQJ0aiEEA0AgACAESQRAIA0gAv0ABAD95gEgDyAB/QAEACIU/eYB/eQBIQwgDiAD/QAEAP3mASAQIBT95gEgFP3mAf3kASEUIAIgDP0LBAAgAyAU/QsEACAAIAD9AAQAIBEgDP3mASAU/eMBIBL95wEgE/3kAf3nAf3lAf0LBAAgAEEQaiEAIAFBEGohASACQRBqIQIgA0EQaiEDDAELCws=";

// the slice of the WebAssembly JS API used here (tsconfig's lib has no WebAssembly types under Node)
interface SimdExports {
  tanhInPlace(ptr: number, n: number): void;
  tanhGrad(g: number, y: number, n: number): void;
  tanhGradColSums(g: number, y: number, n: number, cols: number, acc: number): void;
  adam(p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, c1: number, c2: number, stepSize: number, bc2Sqrt: number, eps: number): void;
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
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
    const bytes = Uint8Array.from(atob(SIMD_WASM_BASE64), (c) => c.charCodeAt(0));
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const ex = new api.Instance(new api.Module(bytes), {}).exports as unknown as SimdExports;
    if (ex.memory.buffer.byteLength < CHUNK * 16) ex.memory.grow(Math.ceil((CHUNK * 16 - ex.memory.buffer.byteLength) / 65536));
    view = new Float32Array(ex.memory.buffer, 0, CHUNK);
    view2 = new Float32Array(ex.memory.buffer, CHUNK * 4, CHUNK);
    view3 = new Float32Array(ex.memory.buffer, CHUNK * 8, CHUNK);
    view4 = new Float32Array(ex.memory.buffer, CHUNK * 12, CHUNK);
    accView = new Float64Array(ex.memory.buffer, CHUNK * 8, CHUNK / 2);
    module = ex;
  } catch {
    module = null; // no WebAssembly SIMD here: callers use the scalar fit
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
