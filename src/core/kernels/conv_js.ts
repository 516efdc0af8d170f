// The plain-TypeScript convolution and max pooling of the `js` backend: a direct loop nest accumulating in float64, written for
// clarity (the reference the wasm kernels are tested against), not speed.
import { checkConv2d, checkPool2d } from "./args.js";
import type { Conv2dArgs, Conv2dGrads, Pool2dArgs } from "./types.js";

/** y = relu?(conv(relu?(x), w) + bias + residual) by direct summation in float64. */
export function conv2dReference(
  x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs,
): void {
  const [ho, wo] = checkConv2d(x, weight, bias, residual, y, args);
  const { n: N, c: C, h: H, w: W, o: O, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, reluInput, relu } = args;
  let q = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++, q++) {
          let s = 0;
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - ph + i;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - pw + j;
                if (iw < 0 || iw >= W) continue;
                let v = x[((n * C + c) * H + ih) * W + iw]!;
                if (reluInput && !(v > 0)) v = 0;
                s += v * weight[((o * C + c) * kh + i) * kw + j]!;
              }
            }
          }
          if (bias) s += bias[o]!;
          if (residual) s += residual[q]!;
          y[q] = relu && !(s > 0) ? 0 : s;
        }
      }
    }
  }
}

/** The gradients of conv2dReference's inputs, added into `grads` (float64 sums, one rounding per element). */
export function conv2dBackwardReference(
  x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs,
): void {
  const [ho, wo] = checkConv2d(x, weight, grads.bias, grads.residual, y, args);
  const { n: N, c: C, h: H, w: W, o: O, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, reluInput, relu } = args;
  const L = ho * wo;
  const gz = new Float64Array(N * O * L);
  for (let q = 0; q < gz.length; q++) gz[q] = relu && !(y[q]! > 0) ? 0 : gy[q]!;
  if (grads.residual) for (let q = 0; q < gz.length; q++) grads.residual[q] = grads.residual[q]! + gz[q]!;
  if (grads.bias) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) s += gz[(n * O + o) * L + l]!;
      grads.bias[o] = grads.bias[o]! + s;
    }
  }
  const gw = grads.weight ? new Float64Array(O * C * kh * kw) : null;
  const gx = grads.x ? new Float64Array(N * C * H * W) : null;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          const g = gz[(n * O + o) * L + oh * wo + ow]!;
          if (g === 0) continue;
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - ph + i;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - pw + j;
                if (iw < 0 || iw >= W) continue;
                const xi = ((n * C + c) * H + ih) * W + iw;
                const wi = ((o * C + c) * kh + i) * kw + j;
                let xv = x[xi]!;
                if (reluInput && !(xv > 0)) xv = 0;
                if (gw) gw[wi] = gw[wi]! + g * xv;
                if (gx) gx[xi] = gx[xi]! + g * weight[wi]!;
              }
            }
          }
        }
      }
    }
  }
  if (gw && grads.weight) for (let q = 0; q < gw.length; q++) grads.weight[q] = grads.weight[q]! + gw[q]!;
  if (gx && grads.x) {
    for (let q = 0; q < gx.length; q++) {
      if (reluInput && !(x[q]! > 0)) continue;
      grads.x[q] = grads.x[q]! + gx[q]!;
    }
  }
}

/** The max-pool's input gradient (see KernelBackend.maxPool2dBackward). */
export function maxPool2dBackwardReference(gy: Float32Array, argmax: Int32Array, gx: Float32Array, len: number): void {
  if (gy.length < len || argmax.length < len) throw new RangeError(`maxPool2d backward: ${len} outputs, but the gradient has ${gy.length} and the argmax ${argmax.length}`);
  for (let i = 0; i < len; i++) gx[argmax[i]!]! += gy[i]!;
}

/** Max pooling with argmax (see KernelBackend.maxPool2d). */
export function maxPool2dReference(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): void {
  const [Ho, Wo] = checkPool2d(x, y, argmax, args);
  const { planes, h: H, w: W, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw } = args;
  let q = 0;
  for (let p = 0; p < planes; p++) {
    const xb = p * H * W;
    for (let oh = 0; oh < Ho; oh++) {
      const i0 = Math.max(0, oh * sh - ph);
      const i1 = Math.min(H, oh * sh - ph + kh);
      for (let ow = 0; ow < Wo; ow++, q++) {
        const j0 = Math.max(0, ow * sw - pw);
        const j1 = Math.min(W, ow * sw - pw + kw);
        let bi = xb + i0 * W + j0;
        let best = x[bi]!;
        let nan = best !== best;
        for (let ih = i0; ih < i1; ih++) {
          for (let k = xb + ih * W + j0, e = xb + ih * W + j1; k < e; k++) {
            const v = x[k]!;
            if (nan) break;
            if (v !== v) {
              nan = true;
              best = v;
              bi = k;
            } else if (v > best) {
              best = v;
              bi = k;
            }
          }
        }
        y[q] = best;
        argmax[q] = bi;
      }
    }
  }
}
