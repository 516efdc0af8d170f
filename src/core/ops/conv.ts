// 2-D convolution (NCHW input, OIHW filter, PyTorch layouts) by im2col + one GEMM over the whole batch, with input,
// filter and bias gradients; and max/avg pooling. The filter gradient is one NT GEMM against the saved columns, the
// input gradient one TN GEMM followed by col2im; only the [N, O, L] ↔ [O, N·L] output reorder is a copy.
import { ShapeError } from "../errors.js";
import { shapeStr } from "../shape.js";
import { type Tensor, acquireBuffer, gradBuffer, makeResult, needsGrad, releaseBuffer } from "../tensor.js";
import { gemm } from "./matmul.js";
import { permuteInto } from "./shape.js";

export type Pair = number | readonly [number, number];

function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) throw new ShapeError(`${op}: ${name} must be an integer ≥ ${min} (or a pair), got ${JSON.stringify(v)}`);
  return p;
}

interface Geometry {
  N: number; C: number; H: number; W: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  Ho: number; Wo: number;
}

function geometry(op: string, x: Tensor, kh: number, kw: number, stride: Pair, padding: Pair): Geometry {
  if (x.ndim !== 4) throw new ShapeError(`${op}: input must be [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [sh, sw] = pair(op, "stride", stride, 1);
  const [ph, pw] = pair(op, "padding", padding, 0);
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (Ho < 1 || Wo < 1) {
    throw new ShapeError(`${op}: kernel ${kh}×${kw} does not fit input ${shapeStr(x.shape)} with padding ${ph}×${pw}`, "use a smaller kernel or more padding");
  }
  return { N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo };
}

/**
 * cols[(c·kh + i)·kw + j, n·L + oh·Wo + ow] = x[n, c, oh·sh − ph + i, ow·sw − pw + j] (0 outside): all images side by
 * side, so the whole batch is one [O, K]·[K, N·L] GEMM.
 */
function im2col(X: Float32Array, g: Geometry, cols: Float32Array): void {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo } = g;
  const L = Ho * Wo;
  const NL = N * L;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * NL;
        // output columns whose input column iw = ow·sw − pw + j is inside the image: [owLo, owHi)
        const [owLo, owHi] = insideRange(j, pw, sw, W, Wo);
        for (let n = 0; n < N; n++) {
          const xb = (n * C + c) * H * W;
          let o = row + n * L;
          for (let oh = 0; oh < Ho; oh++, o += Wo) {
            const ih = oh * sh - ph + i;
            // plain loops: a typed-array builtin call (fill, set + subarray) per short run costs more than the run
            if (ih < 0 || ih >= H || owLo >= owHi) {
              for (let ow = 0; ow < Wo; ow++) cols[o + ow] = 0;
              continue;
            }
            for (let ow = 0; ow < owLo; ow++) cols[o + ow] = 0;
            for (let ow = owHi; ow < Wo; ow++) cols[o + ow] = 0;
            let src = xb + ih * W + owLo * sw - pw + j;
            for (let ow = owLo; ow < owHi; ow++, src += sw) cols[o + ow] = X[src]!;
          }
        }
      }
    }
  }
}

/** [lo, hi): the output columns ow for which ow·stride − pad + offset lies in [0, size). */
function insideRange(offset: number, pad: number, stride: number, size: number, outSize: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - offset) / stride));
  const hi = Math.min(outSize, Math.floor((size - 1 + pad - offset) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** The adjoint of im2col: gx[n, c, ih, iw] += Σ gcols over every window position that read it. */
function col2im(gcols: Float32Array, g: Geometry, gx: Float32Array): void {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo } = g;
  const L = Ho * Wo;
  const NL = N * L;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * NL;
        const [owLo, owHi] = insideRange(j, pw, sw, W, Wo);
        if (owLo >= owHi) continue;
        for (let n = 0; n < N; n++) {
          const xb = (n * C + c) * H * W;
          let o = row + n * L;
          for (let oh = 0; oh < Ho; oh++, o += Wo) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            let dst = xb + ih * W + owLo * sw - pw + j;
            for (let ow = owLo; ow < owHi; ow++, dst += sw) gx[dst]! += gcols[o + ow]!;
          }
        }
      }
    }
  }
}

/** conv2d(x [N, C, H, W], weight [O, C, kh, kw], bias [O] | null) → [N, O, Ho, Wo], as torch.nn.functional.conv2d. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: { stride?: Pair; padding?: Pair } = {}): Tensor {
  if (weight.ndim !== 4) throw new ShapeError(`conv2d: weight must be [out, in, kh, kw], got ${shapeStr(weight.shape)}`);
  const [O, Cw, kh, kw] = weight.shape as [number, number, number, number];
  const g = geometry("conv2d", x, kh, kw, options.stride ?? 1, options.padding ?? 0);
  if (Cw !== g.C) throw new ShapeError(`conv2d: input ${shapeStr(x.shape)} has ${g.C} channels but weight ${shapeStr(weight.shape)} expects ${Cw}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) throw new ShapeError(`conv2d: bias ${shapeStr(bias.shape)} does not match ${O} output channels`);
  const { N, Ho, Wo } = g;
  const L = Ho * Wo;
  const NL = N * L;
  const K = g.C * kh * kw;
  const cols = acquireBuffer(K * NL, false); // [K, N·L], every element written by im2col
  im2col(x.data, g, cols);
  // [O, N·L] = W[O, K]·cols (bias pre-filled), then reordered to [N, O, L]
  const outP = acquireBuffer(O * NL, false); // fully written by the bias fill or the GEMM
  if (bias) for (let o = 0; o < O; o++) outP.fill(bias.data[o]!, o * NL, (o + 1) * NL);
  gemm(weight.data, cols, outP, { m: O, n: NL, k: K, transA: false, transB: false, accumulate: !!bias });
  const out = new Float32Array(N * O * L);
  permuteInto(outP, [O, N, L], [1, 0, 2], out, false);
  const parents = bias ? [x, weight, bias] : [x, weight];
  if (!needsGrad(x, weight, bias ?? undefined)) {
    releaseBuffer(cols);
    releaseBuffer(outP);
    return makeResult("conv2d", out, [N, O, Ho, Wo], parents, null);
  }
  return makeResult("conv2d", out, [N, O, Ho, Wo], parents, (gout, final) => {
    const gP = outP; // reuse: the forward's [O, N·L] buffer is not needed any more
    permuteInto(gout, [N, O, L], [1, 0, 2], gP, false);
    if (weight.requiresGrad) gemm(gP, cols, gradBuffer(weight), { m: O, n: K, k: NL, transA: false, transB: true, accumulate: true });
    if (bias && bias.requiresGrad) {
      const gb = gradBuffer(bias);
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let q = o * NL, e = q + NL; q < e; q++) s += gP[q]!;
        gb[o]! += s;
      }
    }
    if (x.requiresGrad) {
      const gcols = acquireBuffer(K * NL, false);
      gemm(weight.data, gP, gcols, { m: K, n: NL, k: O, transA: true, transB: false });
      col2im(gcols, g, gradBuffer(x));
      releaseBuffer(gcols);
    }
    if (final) {
      releaseBuffer(cols);
      releaseBuffer(outP);
    }
  });
}

/** Max pooling over kernel windows ([N, C, H, W] → [N, C, Ho, Wo]); padding counts as −∞; gradient to the argmax. */
export function maxPool2d(x: Tensor, kernel: Pair, options: { stride?: Pair; padding?: Pair } = {}): Tensor {
  const [kh, kw] = pair("maxPool2d", "kernel", kernel, 1);
  const g = geometry("maxPool2d", x, kh, kw, options.stride ?? kernel, options.padding ?? 0);
  const { N, C, H, W, sh, sw, ph, pw, Ho, Wo } = g;
  if (ph * 2 > kh || pw * 2 > kw) throw new ShapeError(`maxPool2d: padding ${ph}×${pw} must be at most half the kernel ${kh}×${kw}`);
  const X = x.data;
  const out = new Float32Array(N * C * Ho * Wo);
  const arg = new Int32Array(out.length);
  let q = 0;
  for (let p = 0; p < N * C; p++) {
    const xb = p * H * W;
    for (let oh = 0; oh < Ho; oh++) {
      const i0 = Math.max(0, oh * sh - ph);
      const i1 = Math.min(H, oh * sh - ph + kh);
      for (let ow = 0; ow < Wo; ow++, q++) {
        const j0 = Math.max(0, ow * sw - pw);
        const j1 = Math.min(W, ow * sw - pw + kw);
        let bi = xb + i0 * W + j0;
        let best = X[bi]!;
        let nan = best !== best;
        let slow = best - best !== 0; // best is ±∞ or NaN
        for (let ih = i0; ih < i1; ih++) {
          for (let k = xb + ih * W + j0, e = xb + ih * W + j1; k < e; k++) {
            const v = X[k]!;
            if (slow || v - v !== 0) {
              // non-finite values (rare, so this branch predicts well): exact comparisons, first NaN wins
              if (v !== v) {
                if (!nan) { nan = true; bi = k; }
              } else if (!nan && v > best) { best = v; bi = k; }
              slow = nan || best - best !== 0;
              continue;
            }
            // branch-free running max: comparisons on pre-activations mispredict half the time as branches
            const take = +(v > best);
            best += take * (v - best);
            bi += take * (k - bi);
          }
        }
        out[q] = nan ? Number.NaN : best;
        arg[q] = bi;
      }
    }
  }
  return makeResult("maxPool2d", out, [N, C, Ho, Wo], [x], !needsGrad(x) ? null : (gout) => {
    const gx = gradBuffer(x);
    for (let i = 0; i < arg.length; i++) gx[arg[i]!]! += gout[i]!;
  });
}

/** Average pooling (zero padding counted in the divisor, PyTorch's default count_include_pad=True). */
export function avgPool2d(x: Tensor, kernel: Pair, options: { stride?: Pair; padding?: Pair } = {}): Tensor {
  const [kh, kw] = pair("avgPool2d", "kernel", kernel, 1);
  const g = geometry("avgPool2d", x, kh, kw, options.stride ?? kernel, options.padding ?? 0);
  const { N, C, H, W, sh, sw, ph, pw, Ho, Wo } = g;
  const X = x.data;
  const out = new Float32Array(N * C * Ho * Wo);
  const inv = 1 / (kh * kw);
  let q = 0;
  for (let p = 0; p < N * C; p++) {
    const xb = p * H * W;
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++, q++) {
        let s = 0;
        for (let i = 0; i < kh; i++) {
          const ih = oh * sh - ph + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < kw; j++) {
            const iw = ow * sw - pw + j;
            if (iw >= 0 && iw < W) s += X[xb + ih * W + iw]!;
          }
        }
        out[q] = s * inv;
      }
    }
  }
  return makeResult("avgPool2d", out, [N, C, Ho, Wo], [x], !needsGrad(x) ? null : (gout) => {
    const gx = gradBuffer(x);
    let r = 0;
    for (let p = 0; p < N * C; p++) {
      const xb = p * H * W;
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++, r++) {
          const v = gout[r]! * inv;
          for (let i = 0; i < kh; i++) {
            const ih = oh * sh - ph + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < kw; j++) {
              const iw = ow * sw - pw + j;
              if (iw >= 0 && iw < W) gx[xb + ih * W + iw]! += v;
            }
          }
        }
      }
    }
  });
}
