// Self-attention layers with TransformerLens parameter names and layouts (W_Q/W_K/W_V [heads, d_model, d_head],
// W_O [heads, d_head, d_model], b_Q/b_K/b_V [heads, d_head], b_O [d_model]) and hook points hook_q, hook_k,
// hook_v, hook_z ([batch, pos, head, d_head]), hook_attn_scores and hook_pattern ([batch, head, query, key]).
// Attention is softmax attention; LinearSelfAttention drops the softmax (von Oswald et al., 2023), the model in
// which one layer can implement a step of gradient descent on the in-context examples.
import { ConfigError } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import { ShapeError } from "../core/errors.js";
import { linear, matmul } from "../core/ops/matmul.js";
import { shapeStr } from "../core/shape.js";
import { type Tensor, tensor, zeros } from "../core/tensor.js";
import { uniformInit } from "./init.js";
import { HookPoint, Module, Parameter } from "./module.js";

/** Which keys a query may attend to. */
export type KeyMask = "all" | "causal" | "exclude-last";

export interface AttentionOptions {
  dModel: number;
  nHeads: number;
  /** per-head width (default dModel / nHeads) */
  dHead?: number;
  /** "all", "causal" (query t sees keys ≤ t) or "exclude-last" (no query sees the last token, the ICL query) */
  mask?: KeyMask;
  /** include b_Q, b_K, b_V, b_O (default true for softmax attention, false for linear) */
  bias?: boolean;
}

const MASKED = -1e30; // finite, so MESA_DEBUG_NAN stays quiet; exp(−1e30 − max) is exactly 0

abstract class SelfAttentionBase extends Module {
  readonly W_Q: Parameter;
  readonly W_K: Parameter;
  readonly W_V: Parameter;
  readonly W_O: Parameter;
  readonly b_Q: Parameter | null;
  readonly b_K: Parameter | null;
  readonly b_V: Parameter | null;
  readonly b_O: Parameter | null;
  readonly hookQ = new HookPoint();
  readonly hookK = new HookPoint();
  readonly hookV = new HookPoint();
  readonly hookAttnScores = new HookPoint();
  readonly hookPattern = new HookPoint();
  readonly hookZ = new HookPoint();
  readonly dModel: number;
  readonly nHeads: number;
  readonly dHead: number;
  readonly mask: KeyMask;
  private maskCache: { T: number; hidden: Int32Array } | null = null;

  constructor(options: AttentionOptions, rng: Rng, defaultBias: boolean) {
    super();
    const { dModel, nHeads } = options;
    const dHead = options.dHead ?? dModel / nHeads;
    for (const [name, v] of [["dModel", dModel], ["nHeads", nHeads], ["dHead", dHead]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ConfigError(`attention: ${name} must be a positive integer, got ${v}`, name === "dHead" ? "set dHead, or make dModel divisible by nHeads" : undefined);
    }
    this.dModel = dModel;
    this.nHeads = nHeads;
    this.dHead = dHead;
    this.mask = options.mask ?? "all";
    const param = (shape: number[], fanIn: number): Parameter => {
      const t = zeros(shape);
      uniformInit(t.data, rng, 1 / Math.sqrt(fanIn));
      return new Parameter(t);
    };
    this.W_Q = param([nHeads, dModel, dHead], dModel);
    this.W_K = param([nHeads, dModel, dHead], dModel);
    this.W_V = param([nHeads, dModel, dHead], dModel);
    this.W_O = param([nHeads, dHead, dModel], nHeads * dHead);
    const bias = options.bias ?? defaultBias;
    this.b_Q = bias ? new Parameter(zeros([nHeads, dHead])) : null;
    this.b_K = bias ? new Parameter(zeros([nHeads, dHead])) : null;
    this.b_V = bias ? new Parameter(zeros([nHeads, dHead])) : null;
    this.b_O = bias ? new Parameter(zeros([dModel])) : null;
  }

  /** x [B, T, d_model] → per-head projection [B, T, H, d_head]: one GEMM over all heads with the bias fused. */
  private project(x: Tensor, W: Parameter, b: Parameter | null): Tensor {
    const [B, T] = x.shape as [number, number];
    const H = this.nHeads;
    const dh = this.dHead;
    const Wt = W.permute([0, 2, 1]).reshape([H * dh, this.dModel]); // [H·d_head, d_model], Linear layout
    return linear(x, Wt, b ? b.reshape([H * dh]) : null).reshape([B, T, H, dh]);
  }

  /** Flat [query·T + key] indices of the key positions each query may not see, for T positions. */
  protected hiddenKeys(T: number): Int32Array {
    if (this.maskCache?.T === T) return this.maskCache.hidden;
    const hidden: number[] = [];
    for (let q = 0; q < T; q++) {
      for (let k = 0; k < T; k++) {
        const masked = this.mask === "causal" ? k > q : this.mask === "exclude-last" ? k === T - 1 : false;
        if (masked) hidden.push(q * T + k);
      }
    }
    this.maskCache = { T, hidden: Int32Array.from(hidden) };
    return this.maskCache.hidden;
  }

  /** factor applied to q before q·kᵀ */
  protected abstract readonly queryScale: number;

  /** scores [B, H, T, T] → attention pattern [B, H, T, T] */
  protected abstract pattern(scores: Tensor, T: number): Tensor;

  forward(x: Tensor): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) {
      throw new ShapeError(`attention: input must be [batch, pos, d_model=${this.dModel}], got ${shapeStr(x.shape)}`);
    }
    const [B, T] = x.shape as [number, number];
    const q = this.hookQ.forward(this.project(x, this.W_Q, this.b_Q)); // [B, T, H, d_head]
    const k = this.hookK.forward(this.project(x, this.W_K, this.b_K)); // [B, T, H, d_head]
    const v = this.hookV.forward(this.project(x, this.W_V, this.b_V)); // [B, T, H, d_head]
    // the softmax's 1/√d_head is applied to q (4× smaller than the scores at d_head = 8, T = 32)
    const qh = this.queryScale === 1 ? q.permute([0, 2, 1, 3]) : q.permute([0, 2, 1, 3]).mul(this.queryScale); // [B, H, T, d_head]
    const kh = k.permute([0, 2, 1, 3]);
    const vh = v.permute([0, 2, 1, 3]);
    const scores = this.hookAttnScores.forward(this.scores(matmul(qh, kh, { transB: true }), T)); // [B, H, T, T]
    const pattern = this.hookPattern.forward(this.pattern(scores, T)); // [B, H, T, T]
    const z = this.hookZ.forward(matmul(pattern, vh).permute([0, 2, 1, 3])); // [B, T, H, d_head]
    const WoT = this.W_O.reshape([this.nHeads * this.dHead, this.dModel]).transpose(); // [d_model, H·d_head]
    return linear(z.reshape([B, T, this.nHeads * this.dHead]), WoT, this.b_O); // [B, T, d_model]
  }

  /** raw q·kᵀ [B, H, T, T] → scores as hooked */
  protected abstract scores(qk: Tensor, T: number): Tensor;
}

/** Multi-head softmax self-attention: pattern = softmax(q·kᵀ/√d_head + mask). */
export class Attention extends SelfAttentionBase {
  constructor(options: AttentionOptions, rng: Rng) {
    super(options, rng, true);
  }
  protected get queryScale(): number {
    return 1 / Math.sqrt(this.dHead);
  }
  protected scores(qk: Tensor, T: number): Tensor {
    if (this.mask === "all") return qk;
    // masked in place: qk is the fresh output of q·kᵀ, whose backward reads only q and k, so this saves a whole
    // [B, H, T, T] op; masked entries get probability 0, so no gradient reaches them either way
    const hidden = this.hiddenKeys(T);
    const d = qk.data;
    for (let base = 0; base < d.length; base += T * T) for (let i = 0; i < hidden.length; i++) d[base + hidden[i]!] = MASKED;
    return qk;
  }
  protected pattern(scores: Tensor): Tensor {
    return scores.softmax(-1);
  }
}

/**
 * Linear self-attention: pattern = (q·kᵀ) / (number of visible keys), masked keys contributing 0 — no softmax.
 * With mask "exclude-last" the final (query) token reads only the in-context examples.
 */
export class LinearSelfAttention extends SelfAttentionBase {
  private keepCache: { T: number; keep: Tensor } | null = null;

  constructor(options: AttentionOptions, rng: Rng) {
    super(options, rng, false);
  }
  protected get queryScale(): number {
    return 1;
  }
  protected scores(qk: Tensor): Tensor {
    return qk;
  }
  protected pattern(scores: Tensor, T: number): Tensor {
    if (this.keepCache?.T !== T) {
      // keep[q, k] = 1/(visible keys of q) where visible, 0 elsewhere
      const keep = new Float32Array(T * T);
      for (let q = 0; q < T; q++) {
        const visible = this.mask === "causal" ? q + 1 : this.mask === "exclude-last" ? T - 1 : T;
        for (let k = 0; k < T; k++) {
          const hidden = this.mask === "causal" ? k > q : this.mask === "exclude-last" ? k === T - 1 : false;
          keep[q * T + k] = hidden || visible === 0 ? 0 : 1 / visible;
        }
      }
      this.keepCache = { T, keep: tensor(keep, [T, T]) };
    }
    return scores.mul(this.keepCache.keep);
  }
}
