// Convolution of small images as one dense product: on an h×w plane a convolution is a linear map from the
// c·h·w inputs to the o·ho·wo outputs, whose matrix M [o·ho·wo, c·h·w] holds each filter tap where its window
// reads (zeros elsewhere). For images with few more pixels than the kernel has taps (the pooled stages of the
// CNN policy: 2×3, 3×6, 5×5), the product Y = X·Mᵀ costs about h·w / (kh·kw) times the im2col GEMM's flops but
// needs no im2col or col2im, runs as one large GEMM over the whole batch (the filter gradient's reduction is over
// the batch, k = n), and writes NCHW directly (M's rows are (o, oh, ow)). The wasm backend uses it for images of
// at most kh·kw pixels, where it measured about twice as fast as im2col (2×3 images, 32 channels), the blas
// backend up to 2·kh·kw (3×6 images too; see blas.ts). M is cached per filter buffer while the filter is unchanged.
import { acquireResident, releaseBuffer } from "../pool.js";
import { checkConv2d } from "./args.js";
import type { Conv2dArgs, Conv2dGrads, Matmul } from "./types.js";

/** Whether images of this call have at most `factor`·kh·kw pixels (the dense product's flop ratio bound). */
export function denseConvFits(args: Conv2dArgs, factor: number): boolean {
  return args.h * args.w <= factor * args.kh * args.kw;
}

/**
 * Writes M [o·L, c·h·w] into `m`: M[(o, oh, ow), (c, ih, iw)] = w[o, c, i, j] where the window at (oh, ow) reads
 * (ih, iw). Only the taps' entries are written: for a given geometry the others are zero in every matrix, so a
 * rebuild after the filter changed rewrites the same buffer in place (no allocation, no re-zeroing).
 */
function writeConvMatrix(m: Float32Array, weight: Float32Array, a: Conv2dArgs, ho: number, wo: number): void {
  const { c: C, h: H, w: W, o: O, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw } = a;
  const L = ho * wo;
  const chw = C * H * W;
  for (let o = 0; o < O; o++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        const row = (o * L + oh * wo + ow) * chw;
        for (let c = 0; c < C; c++) {
          const wc = (o * C + c) * kh;
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            const mr = row + (c * H + ih) * W;
            const wr = (wc + i) * kw;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - pw + j;
              if (iw >= 0 && iw < W) m[mr + iw] = weight[wr + j]!;
            }
          }
        }
      }
    }
  }
}

/** The last matrix built from a filter buffer: the geometry and filter values it was built for. */
interface CachedMatrix {
  geometry: string;
  weight: Float32Array;
  m: Float32Array;
}
const matrices = new WeakMap<Float32Array, CachedMatrix>();

/**
 * convMatrix for this filter, reused while the filter's values and the geometry are unchanged (the rollout's
 * forward passes between two updates, and a minibatch's backward after its forward, use the same filter, and
 * building M costs o·L·c·h·w writes): the filter is compared value by value with a copy, so an in-place update
 * (the optimizer's step) always rebuilds.
 */
function convMatrix(weight: Float32Array, a: Conv2dArgs, ho: number, wo: number): Float32Array {
  const len = a.o * a.c * a.kh * a.kw;
  const geometry = `${a.c},${a.h},${a.w},${a.o},${a.kh},${a.kw},${a.strideH},${a.strideW},${a.padH},${a.padW}`;
  const hit = matrices.get(weight);
  if (hit !== undefined && hit.geometry === geometry) {
    // bit patterns, so −0 and NaN payloads count as changes too
    const copy = new Uint32Array(hit.weight.buffer, 0, len);
    const now = new Uint32Array(weight.buffer, weight.byteOffset, len);
    let same = true;
    for (let i = 0; i < len; i++) {
      if (copy[i] !== now[i]) {
        same = false;
        break;
      }
    }
    if (same) return hit.m;
  }
  if (hit !== undefined && hit.geometry === geometry) {
    // same geometry, new filter values (the optimizer stepped): same zero pattern, rewrite the taps in place
    writeConvMatrix(hit.m, weight, a, ho, wo);
    hit.weight.set(weight.subarray(0, len));
    return hit.m;
  }
  const m = new Float32Array(a.o * ho * wo * a.c * a.h * a.w);
  writeConvMatrix(m, weight, a, ho, wo);
  matrices.set(weight, { geometry, weight: weight.slice(0, len), m });
  return m;
}

/**
 * The elementwise passes around the dense path's GEMMs. The wasm backend runs them in WebAssembly SIMD on its own
 * memory (wasm.ts, ~4–8× faster than these loops); jsDensePasses are the loops, for the other backends.
 */
export interface DensePasses {
  /** y = relu?((y + bias[o]) + residual) over y [n, o, l] in place; the ReLU maps NaN to 0 */
  epilogue(y: Float32Array, bias: Float32Array | null, residual: Float32Array | null, relu: boolean, n: number, o: number, l: number): void;
  /**
   * Over the output gradient gy [n, o, l]: gz = gy ⊙ (y > 0) when the output was rectified (gz is then a separate
   * buffer, gy is never written), residual += gz, bias += per-channel sums of gz (null: not wanted).
   */
  gradPrologue(gy: Float32Array, gz: Float32Array, y: Float32Array, residual: Float32Array | null, bias: Float32Array | null, relu: boolean, n: number, o: number, l: number): void;
  /** out[i] = x[i] where x[i] > 0, else +0 (NaN → 0), i < len */
  rectifyCopy(x: Float32Array, out: Float32Array, len: number): void;
  /** out[i] += g[i] where x[i] > 0, i < len (g is scratch: it may be overwritten) */
  maskedAdd(out: Float32Array, g: Float32Array, x: Float32Array, len: number): void;
  /**
   * The planner's reward head after its 3×3 conv: h = relu(y + (ctx[n, c] + cells[c, l])) (each add rounded to float32,
   * NaN → 0) and the 1×1 conv after it, without storing h [n, c, l]: maps[n, o, l] = bias[o] + Σ_c w[o, c]·h[n, c, l],
   * channels in order, each product and sum rounded to float32
   */
  headForward(y: Float32Array, ctx: Float32Array, cells: Float32Array, w: Float32Array, bias: Float32Array, maps: Float32Array, n: number, c: number, o: number, l: number): void;
  /**
   * Its gradient from gmaps, h recomputed: gbias += Σ_l gmaps per image; dh = Σ_o w[o, c]·gmaps (o in order, float32),
   * d = dh where h > 0; gy = d (or += when `accumulate`), gcells += d, gctx += Σ_l d, gw[o, c] += Σ_l gmaps·h (products
   * rounded to float32); each Σ_l in float64 as four partial sums by position mod 4, added ((0 + 2) + (1 + 3)) + the
   * tail's; null: not wanted
   */
  headBackward(gmaps: Float32Array, y: Float32Array, ctx: Float32Array, cells: Float32Array, w: Float32Array, gy: Float32Array | null, accumulate: boolean, gctx: Float32Array | null, gcells: Float32Array | null, gw: Float32Array | null, gbias: Float32Array | null, n: number, c: number, o: number, l: number): void;
}

/** Σ_l of a[from..from + L) (times by[..] with each product rounded to float32, when given) in float64, four partial sums by position mod 4 added ((0 + 2) + (1 + 3)) + the tail's: the wasm kernels' order. */
function laneSum(a: Float32Array, from: number, L: number, by: Float32Array | null, byFrom: number): number {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, tail = 0;
  const last = L - (L % 4);
  if (by) {
    for (let l = 0; l < last; l += 4) {
      a0 += Math.fround(a[from + l]! * by[byFrom + l]!);
      a1 += Math.fround(a[from + l + 1]! * by[byFrom + l + 1]!);
      a2 += Math.fround(a[from + l + 2]! * by[byFrom + l + 2]!);
      a3 += Math.fround(a[from + l + 3]! * by[byFrom + l + 3]!);
    }
    for (let l = last; l < L; l++) tail += Math.fround(a[from + l]! * by[byFrom + l]!);
  } else {
    for (let l = 0; l < last; l += 4) {
      a0 += a[from + l]!;
      a1 += a[from + l + 1]!;
      a2 += a[from + l + 2]!;
      a3 += a[from + l + 3]!;
    }
    for (let l = last; l < L; l++) tail += a[from + l]!;
  }
  return a0 + a2 + (a1 + a3) + tail;
}

// The loops are branchless on the data: a ReLU's sign test mispredicts about half the time on activations
// (measured 10–14 ns per element with `v > 0 ? v : 0` against 1–2.5 ns masking the bits), so each masks the
// float's bit pattern with −(test), which keeps the reference's values exactly (+0 where it rectifies, NaN → 0).

/** The bit patterns of a float array (same memory). */
const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

export const jsDensePasses: DensePasses = {
  epilogue(y, bias, residual, relu, N, O, L) {
    // the ReLU masks the stored (float32-rounded) sum's bits: a sum that rounds to −0 becomes +0 either way
    const yb = bitsOf(y);
    for (let n = 0, q = 0; n < N; n++) {
      for (let o = 0; o < O; o++, q += L) {
        const b = bias ? bias[o]! : 0;
        const e = q + L;
        // one loop per fusion, so the inner loop carries no per-element branch on the options
        if (residual && relu) {
          for (let i = q; i < e; i++) {
            y[i] = y[i]! + b + residual[i]!;
            const v = yb[i]!;
            yb[i] = v & -(v <= 0x7f800000);
          }
        } else if (residual) for (let i = q; i < e; i++) y[i] = y[i]! + b + residual[i]!;
        else if (relu) {
          for (let i = q; i < e; i++) {
            y[i] = y[i]! + b;
            const v = yb[i]!;
            yb[i] = v & -(v <= 0x7f800000);
          }
        } else for (let i = q; i < e; i++) y[i] = y[i]! + b;
      }
    }
  },
  gradPrologue(gy, gz, y, gres, gb, relu, N, O, L) {
    // row by row (a row of o·l floats stays in L1 across the three loops); the bias sums as float64 column sums
    // over the batch, folded over positions at the end
    const ol = O * L;
    const colSums = gb ? new Float64Array(ol) : null;
    const gzb = bitsOf(gz);
    const gyb = bitsOf(gy);
    for (let n = 0; n < N; n++) {
      const base = n * ol;
      if (relu) for (let q = base, e = base + ol; q < e; q++) gzb[q] = gyb[q]! & -(y[q]! > 0);
      if (gres) for (let q = base, e = base + ol; q < e; q++) gres[q]! += gz[q]!;
      if (colSums) for (let k = 0, q = base; k < ol; k++, q++) colSums[k]! += gz[q]!;
    }
    if (gb && colSums) {
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let k = o * L, e = k + L; k < e; k++) s += colSums[k]!;
        gb[o]! += s;
      }
    }
  },
  rectifyCopy(x, out, len) {
    const xb = bitsOf(x);
    const ob = bitsOf(out);
    for (let i = 0; i < len; i++) ob[i] = xb[i]! & -(x[i]! > 0);
  },
  maskedAdd(out, g, x, len) {
    const gb = bitsOf(g);
    for (let i = 0; i < len; i++) {
      gb[i] = gb[i]! & -(x[i]! > 0);
      out[i]! += g[i]!;
    }
  },
  headForward(y, ctx, cells, w, bias, maps, N, C, O, L) {
    for (let n = 0; n < N; n++) {
      const mp = n * O * L;
      for (let o = 0; o < O; o++) maps.fill(bias[o]!, mp + o * L, mp + (o + 1) * L);
      for (let c = 0; c < C; c++) {
        const v = ctx[n * C + c]!;
        const yp = (n * C + c) * L;
        for (let l = 0; l < L; l++) {
          const z = Math.fround(y[yp + l]! + Math.fround(v + cells[c * L + l]!));
          const h = z > 0 ? z : 0;
          for (let o = 0; o < O; o++) maps[mp + o * L + l] = maps[mp + o * L + l]! + Math.fround(w[o * C + c]! * h);
        }
      }
    }
  },
  headBackward(gmaps, y, ctx, cells, w, gy, accumulate, gctx, gcells, gw, gbias, N, C, O, L) {
    const h = new Float32Array(L);
    const d = new Float32Array(L);
    for (let n = 0; n < N; n++) {
      const gm = n * O * L;
      if (gbias) for (let o = 0; o < O; o++) gbias[o]! += laneSum(gmaps, gm + o * L, L, null, 0);
      for (let c = 0; c < C; c++) {
        const v = ctx[n * C + c]!;
        const row = (n * C + c) * L;
        for (let l = 0; l < L; l++) {
          const z = Math.fround(y[row + l]! + Math.fround(v + cells[c * L + l]!));
          h[l] = z > 0 ? z : 0;
          let dh = Math.fround(w[c]! * gmaps[gm + l]!);
          for (let o = 1; o < O; o++) dh = Math.fround(dh + Math.fround(w[o * C + c]! * gmaps[gm + o * L + l]!));
          d[l] = z > 0 ? dh : 0;
        }
        if (gy && accumulate) for (let l = 0; l < L; l++) gy[row + l]! += d[l]!;
        else if (gy) gy.set(d, row);
        if (gcells) for (let l = 0; l < L; l++) gcells[c * L + l]! += d[l]!;
        if (gctx) gctx[n * C + c]! += laneSum(d, 0, L, null, 0);
        if (gw) for (let o = 0; o < O; o++) gw[o * C + c]! += laneSum(gmaps, gm + o * L, L, h, 0);
      }
    }
  },
};

/** relu(x) in a pooled buffer (the caller releases it). */
export function rectified(passes: DensePasses, x: Float32Array, len: number): Float32Array {
  const out = acquireResident(len, false);
  passes.rectifyCopy(x, out, len);
  return out;
}

/** conv2d (see KernelBackend.conv2d) as Y = relu?(X)·Mᵀ, then bias, residual and ReLU in one pass. */
export function denseConv2d(
  matmul: Matmul, x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, a: Conv2dArgs,
  passes: DensePasses = jsDensePasses,
): void {
  const [ho, wo] = checkConv2d(x, weight, bias, residual, y, a);
  const L = ho * wo;
  const chw = a.c * a.h * a.w;
  const ol = a.o * L;
  const xin = a.reluInput ? rectified(passes, x, a.n * chw) : x;
  matmul(xin, convMatrix(weight, a, ho, wo), y, { m: a.n, n: ol, k: chw, transA: false, transB: true });
  if (xin !== x) releaseBuffer(xin);
  if (!bias && !residual && !a.relu) return;
  passes.epilogue(y, bias, residual, a.relu, a.n, a.o, L);
}

/** The gradients of denseConv2d's inputs, added into `grads` (see KernelBackend.conv2dBackward). */
export function denseConv2dBackward(
  matmul: Matmul, x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, a: Conv2dArgs,
  passes: DensePasses = jsDensePasses,
): void {
  const [ho, wo] = checkConv2d(x, weight, grads.bias, grads.residual, y, a);
  const { n: N, c: C, h: H, w: W, o: O, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw } = a;
  const L = ho * wo;
  const chw = C * H * W;
  const ol = O * L;
  const gz = a.relu ? acquireResident(N * ol, false) : gy;
  passes.gradPrologue(gy, gz, y, grads.residual, grads.bias, a.relu, N, O, L);
  if (grads.x) {
    // gX = gz·M, added by the GEMM itself; masked where the input was rectified
    const m = convMatrix(weight, a, ho, wo);
    const out = grads.x;
    if (a.reluInput) {
      const gx = acquireResident(N * chw, false);
      matmul(gz, m, gx, { m: N, n: chw, k: ol, transA: false, transB: false });
      passes.maskedAdd(out, gx, x, N * chw);
      releaseBuffer(gx);
    } else matmul(gz, m, out, { m: N, n: chw, k: ol, transA: false, transB: false, accumulate: true });
  }
  if (grads.weight) {
    // gM = gzᵀ·X (one GEMM reducing over the batch), then each tap sums its entries of gM
    const gm = acquireResident(ol * chw, false);
    const xin = a.reluInput ? rectified(passes, x, N * chw) : x;
    matmul(gz, xin, gm, { m: ol, n: chw, k: N, transA: true, transB: false });
    if (xin !== x) releaseBuffer(xin);
    const gw = grads.weight;
    for (let o = 0; o < O; o++) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            let s = 0;
            for (let oh = 0; oh < ho; oh++) {
              const ih = oh * sh - ph + i;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < wo; ow++) {
                const iw = ow * sw - pw + j;
                if (iw >= 0 && iw < W) s += gm[(o * L + oh * wo + ow) * chw + (c * H + ih) * W + iw]!;
              }
            }
            gw[((o * C + c) * kh + i) * kw + j]! += s;
          }
        }
      }
    }
    releaseBuffer(gm);
  }
  if (gz !== gy) releaseBuffer(gz);
}
