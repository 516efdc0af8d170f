// Standard layers with PyTorch parameter names, layouts and default inits: Conv2d (weight [out, in, kh, kw]),
// LayerNorm (weight, bias over the last dim), Embedding (weight [num, dim], N(0, 1)), GRUCell (weight_ih [3h, in],
// weight_hh [3h, h], gates r, z, n as torch.nn.GRUCell).
import { ConfigError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import { type ConvOptions, type Pair, type PoolOptions, conv2d, conv2dMaxPool } from "../core/ops/conv.js";
import { embedding } from "../core/ops/indexing.js";
import { linear } from "../core/ops/matmul.js";
import { layerNorm } from "../core/ops/norm.js";
import { type IntTensor, type Tensor, full, zeros } from "../core/tensor.js";
import { defaultInit, orthogonalInit } from "./init.js";
import { Module, Parameter } from "./module.js";

function checkSizes(layer: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${layer}: ${name} must be a positive integer, got ${v}`);
  }
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  /** include a bias (default true) */
  bias?: boolean;
  /** "default" = PyTorch's U(±1/√fan_in); "orthogonal" = orthogonal over [out, in·kh·kw] × gain, zero bias */
  init?: "default" | "orthogonal";
  gain?: number;
}

export class Conv2d extends Module {
  readonly weight: Parameter; // [out, in, kh, kw]
  readonly bias: Parameter | null; // [out]
  private readonly stride: Pair;
  private readonly padding: Pair;

  constructor(inChannels: number, outChannels: number, kernel: Pair, rng: Rng, options: Conv2dOptions = {}) {
    super();
    const [kh, kw] = typeof kernel === "number" ? [kernel, kernel] : kernel;
    checkSizes("Conv2d", { inChannels, outChannels, kh, kw });
    const fanIn = inChannels * kh * kw;
    const w = zeros([outChannels, inChannels, kh, kw]);
    const b = zeros([outChannels]);
    const useBias = options.bias ?? true;
    if ((options.init ?? "default") === "orthogonal") orthogonalInit(w.data, rng, outChannels, fanIn, options.gain ?? Math.SQRT2);
    else {
      defaultInit(w.data, rng, fanIn);
      if (useBias) defaultInit(b.data, rng, fanIn);
    }
    this.weight = new Parameter(w);
    this.bias = useBias ? new Parameter(b) : null;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding }); // [N, out, Ho, Wo]
  }

  /** maxPool2d(conv(x), kernel, pool), the two fused where the kernels can (see conv2dMaxPool). */
  forwardPooled(x: Tensor, kernel: Pair, pool: PoolOptions): Tensor {
    return conv2dMaxPool(x, this.weight, this.bias, { stride: this.stride, padding: this.padding }, kernel, pool); // [N, out, Po, Qo]
  }

  /** relu?(conv(relu?(x)) + bias + residual) in one kernel call, optionally into a transient buffer (see ConvOptions). */
  forwardFused(x: Tensor, fusion: Pick<ConvOptions, "reluInput" | "relu" | "residual" | "transient">): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, ...fusion }); // [N, out, Ho, Wo]
  }
}

export class LayerNorm extends Module {
  readonly weight: Parameter | null; // [dim]
  readonly bias: Parameter | null; // [dim]
  private readonly eps: number;

  constructor(dim: number, options: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    checkSizes("LayerNorm", { dim });
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(full([dim], 1)) : null;
    this.bias = affine ? new Parameter(zeros([dim])) : null;
    this.eps = options.eps ?? 1e-5;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class Embedding extends Module<IntTensor, Tensor> {
  readonly weight: Parameter; // [num, dim]

  constructor(numEmbeddings: number, dim: number, rng: Rng) {
    super();
    checkSizes("Embedding", { numEmbeddings, dim });
    const w = zeros([numEmbeddings, dim]);
    rng.fillNormal(w.data);
    this.weight = new Parameter(w);
  }

  /** ids [...] → [..., dim] */
  forward(ids: IntTensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/** One GRU step, as torch.nn.GRUCell: forward([x [B, in], h [B, hidden]]) → h' [B, hidden]. */
export class GRUCell extends Module<readonly [Tensor, Tensor], Tensor> {
  readonly weightIh: Parameter; // weight_ih [3·hidden, in]
  readonly weightHh: Parameter; // weight_hh [3·hidden, hidden]
  readonly biasIh: Parameter; // bias_ih [3·hidden]
  readonly biasHh: Parameter; // bias_hh [3·hidden]
  readonly hiddenSize: number;

  constructor(inputSize: number, hiddenSize: number, rng: Rng) {
    super();
    checkSizes("GRUCell", { inputSize, hiddenSize });
    this.hiddenSize = hiddenSize;
    // torch initialises every GRU parameter U(±1/√hidden)
    const init = (shape: number[]): Parameter => {
      const t = zeros(shape);
      defaultInit(t.data, rng, hiddenSize);
      return new Parameter(t);
    };
    this.weightIh = init([3 * hiddenSize, inputSize]);
    this.weightHh = init([3 * hiddenSize, hiddenSize]);
    this.biasIh = init([3 * hiddenSize]);
    this.biasHh = init([3 * hiddenSize]);
  }

  forward([x, h]: readonly [Tensor, Tensor]): Tensor {
    const H = this.hiddenSize;
    const gi = linear(x, this.weightIh, this.biasIh); // [B, 3H]
    const gh = linear(h, this.weightHh, this.biasHh); // [B, 3H]
    const r = gi.slice(-1, 0, H).add(gh.slice(-1, 0, H)).sigmoid();
    const z = gi.slice(-1, H, 2 * H).add(gh.slice(-1, H, 2 * H)).sigmoid();
    const n = gi.slice(-1, 2 * H).add(r.mul(gh.slice(-1, 2 * H))).tanh();
    return n.add(z.mul(h.sub(n))); // (1 − z)·n + z·h
  }
}
