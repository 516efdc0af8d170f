// A small standard transformer for in-context regression: tokens (x_i, y_i) embedded linearly, pre-LayerNorm
// blocks of the core's multi-head softmax Attention and a GELU MLP, and ŷ read from the query position through a
// final LayerNorm and a linear head. As in the LSA, keys and values come from the N context tokens only (the
// attention mask "exclude-last").
// Hook points follow TransformerLens (`blocks.0.attn.hook_pattern`, `blocks.0.hook_resid_post`, …).
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import type { Tensor } from "../../core/tensor.js";
import { Attention } from "../attention.js";
import { LayerNorm } from "../layers.js";
import { Linear } from "../linear.js";
import { HookPoint, Module } from "../module.js";

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

export class IclTransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: Attention;
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
    this.attn = new Attention({ dModel, nHeads: heads, mask: "exclude-last" }, rng);
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
  readonly blocks: IclTransformerBlock[];
  readonly lnFinal: LayerNorm;
  readonly unembed: Linear;

  constructor(options: IclTransformerOptions, rng: Rng) {
    super();
    const { d, layers, dModel, heads } = options;
    if (!Number.isInteger(layers) || layers < 1 || layers > 16) throw new ConfigError(`the transformer needs 1..16 layers, got ${layers}`);
    if (dModel % heads !== 0) throw new ConfigError(`heads (${heads}) must divide dModel (${dModel})`);
    this.embed = new Linear(d + 1, dModel, rng);
    this.blocks = Array.from({ length: layers }, () => new IclTransformerBlock(dModel, heads, (options.mlpRatio ?? 4) * dModel, rng));
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
