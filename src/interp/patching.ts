// Activation patching, the TransformerLens pattern: one generic function runs the model on one input while a
// setter copies part of a hook's activation from another run (a whole layer, one channel, one position, one
// channel at one position), and a metric scores each patched run. Policy metrics: the log-probability of the
// clean run's preferred action and the value estimate, each reported as the fraction of the clean−corrupted
// difference the patch restores ("denoising": clean activations into the corrupted run) or destroys ("noising":
// corrupted activations into the clean run).
import { ConfigError, ShapeError } from "../core/errors.js";
import { shapeStr } from "../core/shape.js";
import { noGrad, Tensor } from "../core/tensor.js";
import type { Module } from "../nn/module.js";
import type { ActorCritic, ActorCriticOutput } from "../nn/models/policy.js";

/** Returns the activation to use: `base` with the part named by `index` taken from `source`. */
export type PatchSetter<I> = (base: Tensor, source: Tensor, index: I) => Tensor;

function checkSame(base: Tensor, source: Tensor): void {
  if (base.shape.length !== source.shape.length || base.shape.some((s, k) => s !== source.shape[k])) {
    throw new ShapeError(`patch: activations differ in shape (${shapeStr(base.shape)} vs ${shapeStr(source.shape)})`, "patch between runs on inputs of the same batch size");
  }
}

/** The whole activation from `source`. */
export const patchWhole: PatchSetter<null> = (base, source) => {
  checkSame(base, source);
  return new Tensor(source.data.slice(), base.shape);
};

/** Channel (or feature, for [batch, d]) `c` from `source`, over every position. */
export const patchChannel: PatchSetter<number> = (base, source, c) => {
  checkSame(base, source);
  const [B, C] = [base.shape[0]!, base.shape[1]!];
  const inner = base.size / (B * C);
  const out = base.data.slice();
  for (let b = 0; b < B; b++) {
    const off = (b * C + c) * inner;
    out.set(source.data.subarray(off, off + inner), off);
  }
  return new Tensor(out, base.shape);
};

/** Every channel at spatial position p (y·w + x) of a [batch, C, h, w] activation from `source`. */
export const patchPosition: PatchSetter<number> = (base, source, p) => {
  checkSame(base, source);
  if (base.shape.length !== 4) throw new ShapeError(`patchPosition needs a [batch, C, h, w] activation, got ${shapeStr(base.shape)}`, "patch whole channels (--by channel) on this hook");
  const [B, C, h, w] = base.shape as [number, number, number, number];
  const out = base.data.slice();
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) out[(b * C + c) * h * w + p] = source.data[(b * C + c) * h * w + p]!;
  return new Tensor(out, base.shape);
};

/** Channel c at position p of a [batch, C, h, w] activation from `source`. */
export const patchChannelPosition: PatchSetter<readonly [number, number]> = (base, source, [c, p]) => {
  checkSame(base, source);
  const [B, C] = [base.shape[0]!, base.shape[1]!];
  const hw = base.size / (B * C);
  const out = base.data.slice();
  for (let b = 0; b < B; b++) out[(b * C + c) * hw + p] = source.data[(b * C + c) * hw + p]!;
  return new Tensor(out, base.shape);
};

/**
 * For each index, runs `model` on `input` with the activation at `hook` replaced by `setter(activation, source,
 * index)` and returns `metric(output)` per index; TransformerLens's generic_activation_patch. No gradients.
 */
export function genericActivationPatch<Out, I, M = number>(
  model: Module<Tensor, Out>,
  input: Tensor,
  source: Tensor,
  hook: string,
  setter: PatchSetter<I>,
  indices: readonly I[],
  metric: (output: Out) => M,
): M[] {
  return indices.map((index) => metric(noGrad(() => model.runWithHooks(input, { [hook]: (a) => setter(a, source, index) }))));
}

/** The per-sample actions the clean run prefers (argmax of its logits). */
export function preferredActions(logits: Tensor): Int32Array {
  const [B, A] = logits.shape as [number, number];
  const best = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let k = 0;
    for (let a = 1; a < A; a++) if (logits.data[b * A + a]! > logits.data[b * A + k]!) k = a;
    best[b] = k;
  }
  return best;
}

/** Mean over the batch of log π(actions[b] | input b). */
export function meanLogProb(logits: Tensor, actions: Int32Array): number {
  const [B, A] = logits.shape as [number, number];
  let s = 0;
  for (let b = 0; b < B; b++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < A; a++) max = Math.max(max, logits.data[b * A + a]!);
    let z = 0;
    for (let a = 0; a < A; a++) z += Math.exp(logits.data[b * A + a]! - max);
    s += logits.data[b * A + actions[b]!]! - max - Math.log(z);
  }
  return s / B;
}

export function meanValue(value: Tensor): number {
  let s = 0;
  for (const v of value.data) s += v;
  return s / value.size;
}

export type PatchDirection = "denoise" | "noise";
export type PatchGranularity = "layer" | "channel" | "position";

export interface HookPatchResult {
  hook: string;
  /** per-sample activation shape */
  shape: number[];
  granularity: PatchGranularity;
  /** what each entry patches: channel index, position y·w+x, or 0 for the whole layer */
  indices: number[];
  /** fraction of the clean − corrupted log-prob difference restored (denoise) or destroyed (noise) */
  logprob_effect: number[];
  /** the same for the value estimate */
  value_effect: number[];
}

export interface PolicyPatchResult {
  direction: PatchDirection;
  samples: number;
  /** mean log π(clean's preferred action) on clean and corrupted inputs, and mean values */
  clean_logprob: number;
  corrupted_logprob: number;
  clean_value: number;
  corrupted_value: number;
  hooks: HookPatchResult[];
}

/**
 * Patches each hook of `policy` between a clean and a corrupted batch of observations at the chosen
 * granularity. Denoising runs the corrupted input with clean activations patched in; noising the reverse.
 */
export function patchPolicy(
  policy: ActorCritic,
  clean: Tensor,
  corrupted: Tensor,
  hooks: readonly string[],
  options: { granularity: PatchGranularity; direction?: PatchDirection },
): PolicyPatchResult {
  const direction = options.direction ?? "denoise";
  if (clean.shape[0] !== corrupted.shape[0]) throw new ShapeError(`patchPolicy: ${clean.shape[0]} clean inputs but ${corrupted.shape[0]} corrupted`, "pair every clean input with its corrupted version");
  const cleanRun = noGrad(() => policy.runWithCache(clean, { names: [...hooks], detach: true }));
  const corruptRun = noGrad(() => policy.runWithCache(corrupted, { names: [...hooks], detach: true }));
  const actions = preferredActions(cleanRun.output.logits);
  const lp = (o: ActorCriticOutput): number => meanLogProb(o.logits, actions);
  const cleanLp = lp(cleanRun.output);
  const corruptLp = lp(corruptRun.output);
  const cleanV = meanValue(cleanRun.output.value);
  const corruptV = meanValue(corruptRun.output.value);
  const [input, sourceCache] = direction === "denoise" ? [corrupted, cleanRun.cache] : [clean, corruptRun.cache];
  // effect as a fraction of the clean−corrupted gap: restored (denoise) or destroyed (noise)
  const frac = (m: number, cleanM: number, corruptM: number): number => {
    const gap = cleanM - corruptM;
    if (Math.abs(gap) < 1e-9) return Number.NaN;
    return direction === "denoise" ? (m - corruptM) / gap : (cleanM - m) / gap;
  };
  const results: HookPatchResult[] = [];
  for (const hook of hooks) {
    const source = sourceCache.get(hook);
    if (!source) throw new ConfigError(`patchPolicy: hook ${hook} was not reached by the forward pass`);
    const shape = source.shape.slice(1);
    let indices: number[];
    let metrics: { lp: number[]; v: number[] };
    const run = <I>(setter: PatchSetter<I>, idx: readonly I[]): { lp: number[]; v: number[] } => {
      const scored = genericActivationPatch(policy, input, source, hook, setter, idx, (o) => [lp(o), meanValue(o.value)] as const);
      return { lp: scored.map((m) => m[0]), v: scored.map((m) => m[1]) };
    };
    if (options.granularity === "layer") {
      indices = [0];
      metrics = run(patchWhole, [null]);
    } else if (options.granularity === "channel") {
      indices = Array.from({ length: shape[0]! }, (_, c) => c);
      metrics = run(patchChannel, indices);
    } else {
      if (shape.length !== 3) throw new ShapeError(`position patching needs a spatial hook [C, h, w]; ${hook} is ${shapeStr(shape)}`, "use --by channel or --by layer for this hook");
      indices = Array.from({ length: shape[1]! * shape[2]! }, (_, p) => p);
      metrics = run(patchPosition, indices);
    }
    results.push({
      hook,
      shape,
      granularity: options.granularity,
      indices,
      logprob_effect: metrics.lp.map((m) => frac(m, cleanLp, corruptLp)),
      value_effect: metrics.v.map((m) => frac(m, cleanV, corruptV)),
    });
  }
  return {
    direction,
    samples: clean.shape[0]!,
    clean_logprob: cleanLp,
    corrupted_logprob: corruptLp,
    clean_value: cleanV,
    corrupted_value: corruptV,
    hooks: results,
  };
}
