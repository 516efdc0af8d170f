// A small standard transformer for in-context regression: tokens (x_i, y_i) embedded linearly, pre-LayerNorm
// blocks of multi-head softmax attention and a GELU MLP, and ŷ read from the query position through a final
// LayerNorm and a linear head. As in the LSA, keys and values come from the N context tokens only.
// Hook points follow TransformerLens (`blocks.0.attn.hook_pattern`, `blocks.0.hook_resid_post`, …).
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import { matmul } from "../../core/ops/matmul.js";
import { type Tensor, ones, zeros } from "../../core/tensor.js";
import { defaultInit } from "../init.js";
import { Linear } from "../linear.js";
import { HookPoint, Module, Parameter } from "../module.js";

export interface IclTransformerOptions {
  /** input dimension d (tokens have d + 1 entries) */
  d: number;
  /** number of blocks */
  layers: number;
  /** residual width */
  dModel: number;
  /** attention heads (must divide dModel) */
  heads: number;
  /** MLP hidden width = mlpRatio · dModel (default 4) */
  mlpRatio?: number;
}

/** LayerNorm over the last axis with gain `w` and bias `b` (TransformerLens names), ε = 1e-5. */
export class LayerNorm extends Module {
  readonly w: Parameter;
  readonly b: Parameter;
  readonly hookScale = new HookPoint();
  constructor(width: number) {
    super();
    this.w = new Parameter(ones([width]));
    this.b = new Parameter(zeros([width]));
  }
  forward(x: Tensor): Tensor {
    const centred = x.sub(x.mean(-1, true));
    const scale = this.hookScale.forward(centred.square().mean(-1, true).add(1e-5).sqrt()); // [..., 1]
    return centred.div(scale).mul(this.w).add(this.b);
  }
}

export class SoftmaxAttention extends Module {
  readonly W_Q: Parameter; // [dModel, dModel], heads stacked along rows
  readonly W_K: Parameter;
  readonly W_V: Parameter;
  readonly W_O: Parameter;
  readonly hookQ = new HookPoint();
  readonly hookK = new HookPoint();
  readonly hookV = new HookPoint();
  readonly hookPattern = new HookPoint();
  readonly hookZ = new HookPoint();
  readonly heads: number;

  constructor(dModel: number, heads: number, rng: Rng) {
    super();
    this.heads = heads;
    const make = (): Parameter => {
      const t = zeros([dModel, dModel]);
      defaultInit(t.data, rng, dModel);
      return new Parameter(t);
    };
    this.W_Q = make();
    this.W_K = make();
    this.W_V = make();
    this.W_O = make();
  }

  /** x [batch, N+1, dModel] → attention output [batch, N+1, dModel]; position N (the query) attends to none of
   * itself: keys and values are positions 0..N−1. */
  forward(x: Tensor): Tensor {
    const [batch, t, m] = x.shape as [number, number, number];
    const n = t - 1;
    const h = this.heads;
    const dh = m / h;
    const split = (y: Tensor, len: number): Tensor => y.reshape([batch, len, h, dh]).permute([0, 2, 1, 3]); // [batch, h, len, dh]
    const ctx = x.slice(1, 0, n);
    const q = this.hookQ.forward(split(matmul(x, this.W_Q, { transB: true }), t)); // [batch, h, N+1, dh]
    const k = this.hookK.forward(split(matmul(ctx, this.W_K, { transB: true }), n)); // [batch, h, N, dh]
    const v = this.hookV.forward(split(matmul(ctx, this.W_V, { transB: true }), n)); // [batch, h, N, dh]
    const pattern = this.hookPattern.forward(matmul(q, k, { transB: true }).mul(1 / Math.sqrt(dh)).softmax(-1)); // [batch, h, N+1, N]
    const z = this.hookZ.forward(matmul(pattern, v)); // [batch, h, N+1, dh]
    return matmul(z.permute([0, 2, 1, 3]).reshape([batch, t, m]), this.W_O, { transB: true }); // [batch, N+1, dModel]
  }
}

export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: SoftmaxAttention;
  readonly ln2: LayerNorm;
  readonly mlpIn: Linear;
  readonly mlpOut: Linear;
  readonly hookResidPre = new HookPoint();
  readonly hookAttnOut = new HookPoint();
  readonly hookResidMid = new HookPoint();
  readonly hookMlpOut = new HookPoint();
  readonly hookResidPost = new HookPoint();

  constructor(dModel: number, heads: number, mlpWidth: number, rng: Rng) {
    super();
    this.ln1 = new LayerNorm(dModel);
    this.attn = new SoftmaxAttention(dModel, heads, rng);
    this.ln2 = new LayerNorm(dModel);
    this.mlpIn = new Linear(dModel, mlpWidth, rng);
    this.mlpOut = new Linear(mlpWidth, dModel, rng);
  }

  forward(resid: Tensor): Tensor {
    resid = this.hookResidPre.forward(resid); // [batch, N+1, dModel]
    const attnOut = this.hookAttnOut.forward(this.attn.forward(this.ln1.forward(resid)));
    const mid = this.hookResidMid.forward(resid.add(attnOut));
    const mlpOut = this.hookMlpOut.forward(this.mlpOut.forward(this.mlpIn.forward(this.ln2.forward(mid)).gelu()));
    return this.hookResidPost.forward(mid.add(mlpOut)); // [batch, N+1, dModel]
  }
}

/** tokens [batch, N+1, d+1] → ŷ [batch]. */
export class IclTransformer extends Module {
  readonly embed: Linear;
  readonly blocks: TransformerBlock[];
  readonly lnFinal: LayerNorm;
  readonly unembed: Linear;

  constructor(options: IclTransformerOptions, rng: Rng) {
    super();
    const { d, layers, dModel, heads } = options;
    if (!Number.isInteger(layers) || layers < 1 || layers > 16) throw new ConfigError(`the transformer needs 1..16 layers, got ${layers}`);
    if (dModel % heads !== 0) throw new ConfigError(`heads (${heads}) must divide dModel (${dModel})`);
    this.embed = new Linear(d + 1, dModel, rng);
    this.blocks = Array.from({ length: layers }, () => new TransformerBlock(dModel, heads, (options.mlpRatio ?? 4) * dModel, rng));
    this.lnFinal = new LayerNorm(dModel);
    this.unembed = new Linear(dModel, 1, rng);
  }

  forward(tokens: Tensor): Tensor {
    const [batch, t] = tokens.shape as [number, number];
    let resid = this.embed.forward(tokens); // [batch, N+1, dModel]
    for (const block of this.blocks) resid = block.forward(resid);
    const query = resid.slice(1, t - 1, t); // [batch, 1, dModel]
    return this.unembed.forward(this.lnFinal.forward(query)).reshape([batch]); // [batch]
  }
}
