// 2-D convolution (NCHW input, OIHW filter, PyTorch layouts) on the kernel backend's conv2d (wasm: im2col + GEMM
// per image, NCHW end to end), with bias, residual and ReLUs on input and output fused into the same call; and
// max/avg pooling.
import { ShapeError } from "../errors.js";
import { shapeStr } from "../shape.js";
import { type Conv2dArgs, kernels } from "../kernels/index.js";
import { windowOutputSize } from "../kernels/types.js";
import { acquireResident, acquireResidentIndices, releaseIndices } from "../pool.js";
import { type Tensor, gradBuffer, isGradEnabled, makeResult, needsGrad, releaseBuffer } from "../tensor.js";

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

export interface ConvOptions {
  stride?: Pair;
  padding?: Pair;
  /** rectify the input as it is read: conv(relu(x)) without materializing relu(x) (IMPALA's pre-activation) */
  reluInput?: boolean;
  /** rectify the output: relu(conv(x) + bias + residual) in the same pass */
  relu?: boolean;
  /** added to the output before the ReLU (same shape as the output): the residual connection, without a copy */
  residual?: Tensor | null;
  /**
   * Nothing outside the graph keeps the output (a model's inner activation without hooks): its buffer comes from
   * the kernels' own memory when they have some (wasm: no copies in and out of the following conv calls), else
   * from the pool, and goes back once backward() has freed the graph (in noGrad, the caller gives it back with
   * releaseBuffer when done). Never set it for a tensor a caller may hold on to.
   */
  transient?: boolean;
}

/** A convolution's kernel arguments and output shape [N, O, Ho, Wo], its shapes checked (`op` names the caller). */
function convCall(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, options: ConvOptions): { args: Conv2dArgs; outShape: [number, number, number, number] } {
  if (weight.ndim !== 4) throw new ShapeError(`${op}: weight must be [out, in, kh, kw], got ${shapeStr(weight.shape)}`);
  const [O, Cw, kh, kw] = weight.shape as [number, number, number, number];
  const g = geometry(op, x, kh, kw, options.stride ?? 1, options.padding ?? 0);
  if (Cw !== g.C) throw new ShapeError(`${op}: input ${shapeStr(x.shape)} has ${g.C} channels but weight ${shapeStr(weight.shape)} expects ${Cw}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) throw new ShapeError(`${op}: bias ${shapeStr(bias.shape)} does not match ${O} output channels`);
  const outShape: [number, number, number, number] = [g.N, O, g.Ho, g.Wo];
  const residual = options.residual ?? null;
  if (residual && shapeStr(residual.shape) !== shapeStr(outShape)) {
    throw new ShapeError(`${op}: residual ${shapeStr(residual.shape)} must have the output's shape ${shapeStr(outShape)}`);
  }
  const args: Conv2dArgs = {
    n: g.N, c: g.C, h: g.H, w: g.W, o: O, kh, kw, strideH: g.sh, strideW: g.sw, padH: g.ph, padW: g.pw,
    reluInput: options.reluInput ?? false, relu: options.relu ?? false,
  };
  return { args, outShape };
}

/**
 * conv2d(x [N, C, H, W], weight [O, C, kh, kw], bias [O] | null) → [N, O, Ho, Wo], as torch.nn.functional.conv2d;
 * with the fusion options, relu?(conv(relu?(x)) + bias + residual) in one kernel call and one tape node.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvOptions = {}): Tensor {
  const { args, outShape } = convCall("conv2d", x, weight, bias, options);
  const [N, O, Ho, Wo] = outShape;
  const residual = options.residual ?? null;
  const backend = kernels();
  const transient = options.transient ?? false;
  // every kernel writes the whole output, so a pooled buffer needs no zeroing
  const out = transient ? acquireResident(N * O * Ho * Wo, false) : new Float32Array(N * O * Ho * Wo);
  backend.conv2d(x.data, weight.data, bias?.data ?? null, residual?.data ?? null, out, args);
  const parents = [x, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  const grad = parents.some((p) => p.requiresGrad) && isGradEnabled();
  return makeResult("conv2d", out, outShape, parents, !grad ? null : (gout, final) => {
    kernels().conv2dBackward(x.data, weight.data, out, gout, {
      x: x.requiresGrad ? gradBuffer(x) : null,
      weight: weight.requiresGrad ? gradBuffer(weight) : null,
      bias: bias?.requiresGrad ? gradBuffer(bias) : null,
      residual: residual?.requiresGrad ? gradBuffer(residual) : null,
    }, args);
    // the consumers' backward rules ran before this one (they were made later): a transient output is dead now
    if (final && transient) releaseBuffer(out);
  });
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  /** the output is transient (see ConvOptions) */
  transient?: boolean;
}

/**
 * maxPool2d(conv2d(x, weight, bias, conv), kernel, pool) for a convolution whose output only the max-pool reads (a
 * CNN stage without a hook on its convolution): one call and one tape node where the kernel backend fuses the two
 * (the blas backend with oneDNN: the convolution's output stays in oneDNN's blocked layout, and its gradient too),
 * else the two ops. The same output either way; fused, the filter and bias gradients are summed in oneDNN's order
 * (last bits may differ from the two ops'). The convolution's own output is transient in both.
 */
export function conv2dMaxPool(x: Tensor, weight: Tensor, bias: Tensor | null, conv: Pick<ConvOptions, "stride" | "padding">, kernel: Pair, pool: PoolOptions = {}): Tensor {
  const backend = kernels();
  const transient = pool.transient ?? false;
  if (backend.conv2dMaxPool !== undefined) {
    const { args, outShape } = convCall("conv2dMaxPool", x, weight, bias, conv);
    const [N, O, Ho, Wo] = outShape;
    const [kh, kw] = pair("conv2dMaxPool", "kernel", kernel, 1);
    const [sh, sw] = pair("conv2dMaxPool", "stride", pool.stride ?? kernel, 1);
    const [ph, pw] = pair("conv2dMaxPool", "padding", pool.padding ?? 0, 0);
    if (ph * 2 > kh || pw * 2 > kw) throw new ShapeError(`conv2dMaxPool: padding ${ph}×${pw} must be at most half the kernel ${kh}×${kw}`);
    const window = { kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw };
    const [Po, Qo] = windowOutputSize({ h: Ho, w: Wo, ...window });
    if (Po < 1 || Qo < 1) throw new ShapeError(`conv2dMaxPool: a ${kh}×${kw} window does not fit the convolution's ${Ho}×${Wo} output with padding ${ph}×${pw}`);
    const pooled = transient ? acquireResident(N * O * Po * Qo, false) : new Float32Array(N * O * Po * Qo);
    const state = backend.conv2dMaxPool(x.data, weight.data, bias?.data ?? null, pooled, args, window);
    if (state !== null) {
      const parents = [x, weight, ...(bias ? [bias] : [])];
      const grad = parents.some((p) => p.requiresGrad) && isGradEnabled();
      if (!grad) backend.releaseConvPool!(state);
      return makeResult("conv2dMaxPool", pooled, [N, O, Po, Qo], parents, !grad ? null : (gout, final) => {
        backend.conv2dMaxPoolBackward!(state, x.data, weight.data, gout, {
          x: x.requiresGrad ? gradBuffer(x) : null,
          weight: weight.requiresGrad ? gradBuffer(weight) : null,
          bias: bias?.requiresGrad ? gradBuffer(bias) : null,
          residual: null,
        }, args);
        if (final) {
          backend.releaseConvPool!(state);
          if (transient) releaseBuffer(pooled);
        }
      });
    }
    if (transient) releaseBuffer(pooled);
  }
  const c = conv2d(x, weight, bias, { ...conv, transient: true }); // [N, O, Ho, Wo]
  const out = maxPool2d(c, kernel, pool);
  // no gradient will flow back through the convolution: nothing reads its output any more
  if (!c.requiresGrad) releaseBuffer(c.data);
  return out;
}

/** Max pooling over kernel windows ([N, C, H, W] → [N, C, Ho, Wo]); padding counts as −∞; gradient to the argmax. */
export function maxPool2d(x: Tensor, kernel: Pair, options: PoolOptions = {}): Tensor {
  const [kh, kw] = pair("maxPool2d", "kernel", kernel, 1);
  const g = geometry("maxPool2d", x, kh, kw, options.stride ?? kernel, options.padding ?? 0);
  const { N, C, H, W, sh, sw, ph, pw, Ho, Wo } = g;
  if (ph * 2 > kh || pw * 2 > kw) throw new ShapeError(`maxPool2d: padding ${ph}×${pw} must be at most half the kernel ${kh}×${kw}`);
  // transient: as for conv2d (the kernel writes the whole output)
  const transient = options.transient ?? false;
  const out = transient ? acquireResident(N * C * Ho * Wo, false) : new Float32Array(N * C * Ho * Wo);
  const arg = transient ? acquireResidentIndices(out.length) : new Int32Array(out.length);
  kernels().maxPool2d(x.data, out, arg, { planes: N * C, h: H, w: W, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw });
  const grad = needsGrad(x);
  if (!grad && transient) releaseIndices(arg); // only backward reads the argmax
  return makeResult("maxPool2d", out, [N, C, Ho, Wo], [x], !grad ? null : (gout, final) => {
    kernels().maxPool2dBackward(gout, arg, gradBuffer(x), out.length);
    if (final && transient) {
      releaseBuffer(out);
      releaseIndices(arg);
    }
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
