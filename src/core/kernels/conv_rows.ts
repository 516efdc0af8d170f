// Convolution of small images as channels-last row products ("im2row"). With NCHW activations, im2col of an
// image of a few pixels copies one short, unaligned run per (tap, channel, image) — for 5×5 images, 25 floats with
// scalar ends — and that, not the GEMM, was most of a small layer's time (maze-cheese's 5×5 block convolution:
// im2col and col2im ~45% of its forward + backward, OpenBLAS ~35%). Here a block of images is first transposed into
// a zero-padded channels-last copy xt [count, H + 2·ph, W + 2·pw, C]; an output pixel's row of the product is then
// kh contiguous runs of kw·C floats (taps (i, 0…kw−1) over all channels), so im2row is whole-vector copies; one
// GEMM per block t [O, count·L] = Wr · rowsᵀ with the filter reordered to Wr [O, (i, j, c)] (t holds each image's
// outputs in NCHW order), and the epilogue adds the bias and residual and rectifies as it writes y. The backward
// mirrors it: the output gradient gathered to [O, count·L], the row gradient tzᵀ · Wr taken back through row2im (the adjoint of im2row)
// into a padded channels-last gradient that is added to gx (masked where the input was rectified), and the filter
// gradient Σ_blocks tz · rows accumulated by the GEMM in block order, then reordered to OIHW. Every block runs on
// the calling thread with products far below the BLAS threading threshold, so the bits never depend on the thread
// count. The elementwise passes run in wasm SIMD on the kernels' memory (wasm.ts rowPasses); jsRowPasses are the
// plain loops, the reference and the fallback.
import { acquireResident, releaseBuffer } from "../pool.js";
import { checkConv2d } from "./args.js";
import type { DensePasses } from "./conv_dense.js";
import type { Conv2dArgs, Conv2dGrads, Matmul, Window2d } from "./types.js";

/**
 * Images of at most this many pixels (and more than the dense product takes, 2·kh·kw) convolve as row products on
 * the blas backend. Measured (batch 2048, forward + backward, CPU ms on one thread, row products against the
 * previous path alternated in one process, 31 pairs, load 7.8–8.7; medians and minima): maze-cheese's 5×5 block
 * convolutions 50.6/40.9 against im2col's 67.0/55.0 (input-ReLU one) and 43.4/39.4 against 47.1/44.6 (residual
 * one); its 9×9 stage-1 convolution 77.1/70.3 against 65.1/59.0 (so 81-pixel images stay on im2col); coin-run's
 * 3×6 block convolution 23.2/17.6 against the dense product's 12.3/10.0 (so the dense product keeps those).
 */
export const ROWS_MAX_PIXELS = 32;

/** Floats of one block's rows [count·L, K]: ~1 MiB, so a block's rows, its xt and its t stay in L2. */
export const ROWS_BLOCK_FLOATS = 256 << 10;

/** Whether a call convolves as row products (images of at most maxPixels pixels). */
export function rowsConvFits(args: Conv2dArgs, maxPixels = ROWS_MAX_PIXELS): boolean {
  return args.h * args.w <= maxPixels;
}

/** The geometry every pass of one call shares. */
export interface RowGeometry extends Window2d {
  c: number;
  o: number;
  /** output height and width */
  ho: number;
  wo: number;
}

/**
 * The passes around the row products, each over the `count` images from image n0 of whole arrays (so a backend
 * can tell its own memory by the array). xt is [count, H + 2·ph, W + 2·pw, C], rows [count·L, kh·kw·C], t
 * [O, count·L] (L = ho·wo: each image's outputs in NCHW order, so the epilogue and gather copy runs).
 */
export interface RowPasses {
  /** xt = the images transposed to channels-last inside a zero border (rectified when relu; NaN → 0 then) */
  pad(x: Float32Array, n0: number, count: number, xt: Float32Array, g: RowGeometry, relu: boolean): void;
  /** rows[(img·ho + oh)·wo + ow, (i·kw + j)·C + c] = xt[img, oh·sh + i, ow·sw + j, c] */
  im2row(xt: Float32Array, rows: Float32Array, count: number, g: RowGeometry): void;
  /** y[n0 + img, o, l] = relu?((t[o, img·L + l] + bias[o]) + residual[n0 + img, o, l]); the ReLU maps NaN to 0 */
  epilogue(t: Float32Array, y: Float32Array, bias: Float32Array | null, residual: Float32Array | null, n0: number, count: number, g: RowGeometry, relu: boolean): void;
  /** t[o, img·L + l] = gz[n0 + img, o, l] */
  gather(gz: Float32Array, n0: number, count: number, t: Float32Array, g: RowGeometry): void;
  /**
   * gxt's interior (its border is never read) = the adjoint of im2row applied to rows: per pixel, the first run
   * that reads it, plus the others in order (output pixels row-major) — the order every backend sums in
   */
  row2im(rows: Float32Array, gxt: Float32Array, count: number, g: RowGeometry): void;
  /** gx[n0 + img, c, h, w] += gxt[img, h + ph, w + pw, c], only where x > 0 when x is given (the input was rectified) */
  unpadAdd(gxt: Float32Array, gx: Float32Array, x: Float32Array | null, n0: number, count: number, g: RowGeometry): void;
}

export const jsRowPasses: RowPasses = {
  pad(x, n0, count, xt, g, relu) {
    const { c: C, h: H, w: W, padH: ph, padW: pw } = g;
    const hp = H + 2 * ph, wp = W + 2 * pw;
    xt.fill(0, 0, count * hp * wp * C);
    for (let img = 0; img < count; img++) {
      const src = (n0 + img) * C * H * W;
      const dst = img * hp * wp * C;
      for (let c = 0; c < C; c++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) {
            const v = x[src + (c * H + h) * W + w]!;
            xt[dst + ((h + ph) * wp + w + pw) * C + c] = relu ? (v > 0 ? v : 0) : v;
          }
        }
      }
    }
  },
  im2row(xt, rows, count, g) {
    const { c: C, h: H, w: W, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, ho, wo } = g;
    const hp = H + 2 * ph, wp = W + 2 * pw;
    const run = kw * C;
    let q = 0;
    for (let img = 0; img < count; img++) {
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          for (let i = 0; i < kh; i++, q += run) {
            const at = ((img * hp + oh * sh + i) * wp + ow * sw) * C;
            rows.set(xt.subarray(at, at + run), q);
          }
        }
      }
    }
  },
  epilogue(t, y, bias, residual, n0, count, g, relu) {
    const { o: O, ho, wo } = g;
    const L = ho * wo;
    for (let img = 0; img < count; img++) {
      for (let o = 0; o < O; o++) {
        const b = bias ? bias[o]! : 0;
        const q = ((n0 + img) * O + o) * L;
        for (let l = 0; l < L; l++) {
          // rounded to float32 after each add, as the f32 kernels add
          let v = Math.fround(t[o * count * L + img * L + l]! + b);
          if (residual) v = Math.fround(v + residual[q + l]!);
          y[q + l] = relu && !(v > 0) ? 0 : v;
        }
      }
    }
  },
  gather(gz, n0, count, t, g) {
    const { o: O, ho, wo } = g;
    const L = ho * wo;
    for (let img = 0; img < count; img++) {
      for (let o = 0; o < O; o++) {
        const q = ((n0 + img) * O + o) * L;
        for (let l = 0; l < L; l++) t[o * count * L + img * L + l] = gz[q + l]!;
      }
    }
  },
  row2im(rows, gxt, count, g) {
    const { c: C, h: H, w: W, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, ho, wo } = g;
    const wp = W + 2 * pw;
    const padLen = (H + 2 * ph) * wp * C;
    const rowLen = kh * kw * C;
    for (let img = 0; img < count; img++) {
      for (let h = ph; h < H + ph; h++) {
        for (let w = pw; w < W + pw; w++) {
          const dst = img * padLen + (h * wp + w) * C;
          let first = true;
          for (let oh = 0; oh < ho; oh++) {
            const i = h - oh * sh;
            if (i < 0 || i >= kh) continue;
            for (let ow = 0; ow < wo; ow++) {
              const j = w - ow * sw;
              if (j < 0 || j >= kw) continue;
              const src = ((img * ho + oh) * wo + ow) * rowLen + (i * kw + j) * C;
              for (let c = 0; c < C; c++) gxt[dst + c] = first ? rows[src + c]! : gxt[dst + c]! + rows[src + c]!;
              first = false;
            }
          }
          if (first) gxt.fill(0, dst, dst + C);
        }
      }
    }
  },
  unpadAdd(gxt, gx, x, n0, count, g) {
    const { c: C, h: H, w: W, padH: ph, padW: pw } = g;
    const hp = H + 2 * ph, wp = W + 2 * pw;
    for (let img = 0; img < count; img++) {
      const base = (n0 + img) * C * H * W;
      for (let c = 0; c < C; c++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) {
            const q = base + (c * H + h) * W + w;
            if (x !== null && !(x[q]! > 0)) continue; // (the wasm pass selects the old value: the same bits)
            gx[q]! += gxt[((img * hp + h + ph) * wp + w + pw) * C + c]!;
          }
        }
      }
    }
  },
};

function geometryOf(a: Conv2dArgs, ho: number, wo: number): RowGeometry {
  return { c: a.c, h: a.h, w: a.w, o: a.o, kh: a.kh, kw: a.kw, strideH: a.strideH, strideW: a.strideW, padH: a.padH, padW: a.padW, ho, wo };
}

/** Images per block: rows of about ROWS_BLOCK_FLOATS floats, at least one image. */
function blockImages(a: Conv2dArgs, L: number, blockFloats: number): number {
  return Math.max(1, Math.min(a.n, Math.floor(blockFloats / Math.max(1, L * a.c * a.kh * a.kw))));
}

/** Wr [O, (i, j, c)] from the OIHW filter. */
function reorderFilter(weight: Float32Array, a: Conv2dArgs): Float32Array {
  const { o: O, c: C, kh, kw } = a;
  const wr = acquireResident(O * C * kh * kw, false);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) wr[((o * kh + i) * kw + j) * C + c] = weight[((o * C + c) * kh + i) * kw + j]!;
      }
    }
  }
  return wr;
}

/** `a` itself when it is a resident buffer the passes can use in place, else a resident copy of its first len floats. */
function residentCopy(a: Float32Array, len: number, isResident: (a: Float32Array) => boolean): Float32Array {
  if (isResident(a)) return a;
  const r = acquireResident(len, false);
  r.set(a.subarray(0, len));
  return r;
}

/** Scratch buffers of one call: the padded channels-last block, its rows and the product. */
function scratch(a: Conv2dArgs, nb: number, L: number) {
  const K = a.c * a.kh * a.kw;
  return {
    xt: acquireResident(nb * (a.h + 2 * a.padH) * (a.w + 2 * a.padW) * a.c, false),
    rows: acquireResident(nb * L * K, false),
    t: acquireResident(nb * L * a.o, false),
  };
}

/** conv2d (see KernelBackend.conv2d) as row products on `matmul`. */
export function rowsConv2d(
  matmul: Matmul, x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, a: Conv2dArgs,
  passes: RowPasses = jsRowPasses, isResident: (a: Float32Array) => boolean = () => true, blockFloats = ROWS_BLOCK_FLOATS,
): void {
  const [ho, wo] = checkConv2d(x, weight, bias, residual, y, a);
  const L = ho * wo;
  const outLen = a.n * a.o * L;
  if (outLen === 0) return;
  const g = geometryOf(a, ho, wo);
  const K = a.c * a.kh * a.kw;
  const nb = blockImages(a, L, blockFloats);
  const xr = residentCopy(x, a.n * a.c * a.h * a.w, isResident);
  const rr = residual === null ? null : residentCopy(residual, outLen, isResident);
  const yr = isResident(y) ? y : acquireResident(outLen, false);
  const wr = reorderFilter(weight, a);
  const s = scratch(a, nb, L);
  for (let n0 = 0; n0 < a.n; n0 += nb) {
    const count = Math.min(nb, a.n - n0);
    passes.pad(xr, n0, count, s.xt, g, a.reluInput);
    passes.im2row(s.xt, s.rows, count, g);
    matmul(wr, s.rows, s.t, { m: a.o, n: count * L, k: K, transA: false, transB: true });
    passes.epilogue(s.t, yr, bias, rr, n0, count, g, a.relu);
  }
  if (yr !== y) {
    y.set(yr.subarray(0, outLen));
    releaseBuffer(yr);
  }
  if (xr !== x) releaseBuffer(xr);
  if (rr !== null && rr !== residual) releaseBuffer(rr);
  for (const b of [wr, s.xt, s.rows, s.t]) releaseBuffer(b);
}

/** The gradients of rowsConv2d's inputs, added into `grads` (see KernelBackend.conv2dBackward). */
export function rowsConv2dBackward(
  matmul: Matmul, x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, a: Conv2dArgs,
  passes: RowPasses, dense: DensePasses, isResident: (a: Float32Array) => boolean = () => true, blockFloats = ROWS_BLOCK_FLOATS,
): void {
  const [ho, wo] = checkConv2d(x, weight, grads.bias, grads.residual, y, a);
  const L = ho * wo;
  const outLen = a.n * a.o * L;
  if (outLen === 0) return;
  const inLen = a.n * a.c * a.h * a.w;
  const g = geometryOf(a, ho, wo);
  const K = a.c * a.kh * a.kw;
  // gz = gy ⊙ (y > 0) when the output was rectified, the residual's and the bias's gradients: one pass
  const masked = a.relu ? acquireResident(outLen, false) : gy;
  dense.gradPrologue(gy, masked, y, grads.residual, grads.bias, a.relu, a.n, a.o, L);
  const gz = residentCopy(masked, outLen, isResident);
  if (gz !== masked && masked !== gy) releaseBuffer(masked);
  if (grads.x === null && grads.weight === null) {
    if (gz !== gy) releaseBuffer(gz);
    return;
  }
  const nb = blockImages(a, L, blockFloats);
  const needX = grads.weight !== null || a.reluInput;
  const xr = needX ? residentCopy(x, inLen, isResident) : null;
  const gxr = grads.x === null ? null : residentCopy(grads.x, inLen, isResident);
  const wr = grads.x === null ? null : reorderFilter(weight, a);
  const gwr = grads.weight === null ? null : acquireResident(a.o * K, false);
  const s = scratch(a, nb, L);
  for (let n0 = 0, first = true; n0 < a.n; n0 += nb, first = false) {
    const count = Math.min(nb, a.n - n0);
    passes.gather(gz, n0, count, s.t, g);
    if (gxr !== null && wr !== null) {
      matmul(s.t, wr, s.rows, { m: count * L, n: K, k: a.o, transA: true, transB: false });
      passes.row2im(s.rows, s.xt, count, g);
      passes.unpadAdd(s.xt, gxr, a.reluInput ? xr : null, n0, count, g);
    }
    if (gwr !== null && xr !== null) {
      passes.pad(xr, n0, count, s.xt, g, a.reluInput);
      passes.im2row(s.xt, s.rows, count, g);
      // gWr += tz · rows, accumulated block after block in order
      matmul(s.t, s.rows, gwr, { m: a.o, n: K, k: count * L, transA: false, transB: false, accumulate: !first });
    }
  }
  if (gwr !== null && grads.weight !== null) {
    const gw = grads.weight;
    const { o: O, c: C, kh, kw } = a;
    for (let o = 0; o < O; o++) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) gw[((o * C + c) * kh + i) * kw + j]! += gwr[((o * kh + i) * kw + j) * C + c]!;
        }
      }
    }
    releaseBuffer(gwr);
  }
  if (gxr !== null && grads.x !== null && gxr !== grads.x) {
    grads.x.set(gxr.subarray(0, inLen));
    releaseBuffer(gxr);
  }
  if (xr !== null && xr !== x) releaseBuffer(xr);
  if (wr !== null) releaseBuffer(wr);
  if (gz !== gy) releaseBuffer(gz);
  for (const b of [s.xt, s.rows, s.t]) releaseBuffer(b);
}
