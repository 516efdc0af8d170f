// The CNN trunk's transient activations (pooled buffers given back once the graph is freed, or at the end of a
// forward pass no gradient flows through): outputs and gradients bit-identical to the ordinary path (hooks
// attached make every activation ordinary), over repeated steps that reuse the pool, and nothing handed to a
// caller is recycled under it. Without a hook on a stage's convolution output the convolution and its max-pool
// run fused where the kernels fuse them (oneDNN): outputs still bit-identical, gradients summed in another order.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, noGrad, randn } from "../../src/core/tensor.js";
import { CnnActorCritic, ImpalaStage } from "../../src/nn/models/cnn_policy.js";

const spec = { kind: "cnn", obsShape: [3, 9, 11], numActions: 5, hidden: [8, 16, 32] };

/**
 * One training step's outputs and parameter gradients, with no-op hooks on every hook point ("all"), on the stages'
 * convolution outputs only ("conv": no convolution fused with its max-pool), or none.
 */
function step(policy: CnnActorCritic, obs: Tensor, hooks: "all" | "conv" | "none"): Float32Array[] {
  for (const p of policy.parameters()) p.grad = null;
  const out = hooks === "none" ? policy.forward(obs) : policy.runWithHooks(obs, [[(name: string) => hooks === "all" || name.endsWith("hook_conv_out"), () => undefined]]);
  const snapshot = [out.logits.data.slice(), out.value.data.slice()];
  out.logits.mul(out.logits).sum().add(out.value.sum()).backward();
  return [...snapshot, ...policy.parameters().map((p) => p.grad!.data.slice())];
}

describe("CNN trunk transient activations", () => {
  it.each([1, 3])("gives the same outputs and gradients as ordinary activations, step after step (iterations %i)", (iterations) => {
    const policy = new CnnActorCritic({ ...spec, options: { iterations } }, new Rng(3));
    const rng = new Rng(4);
    for (let i = 0; i < 3; i++) {
      const obs = randn([64, 3, 9, 11], rng);
      const plain = step(policy, obs, "all");
      const pooled = step(policy, obs, "conv");
      expect(pooled.length).toBe(plain.length);
      pooled.forEach((a, k) => expect(Buffer.from(a.buffer).equals(Buffer.from(plain[k]!.buffer)), `array ${k}, step ${i}`).toBe(true));
      // fused: the logits and values to the bit, the gradients within float rounding of the unfused ones
      const fused = step(policy, obs, "none");
      fused.forEach((a, k) => {
        const want = plain[k]!;
        if (k < 2) expect(Buffer.from(a.buffer).equals(Buffer.from(want.buffer)), `output ${k}, step ${i}`).toBe(true);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        want.forEach((v, j) => expect(Math.abs(a[j]! - v), `array ${k}[${j}], step ${i}`).toBeLessThanOrEqual(1e-5 * scale));
      });
    }
  });

  it("leaves the features of an earlier noGrad pass intact, and a stage called alone returns ordinary tensors", () => {
    const policy = new CnnActorCritic(spec, new Rng(5));
    const rng = new Rng(6);
    const a = noGrad(() => policy.forward(randn([64, 3, 9, 11], rng)));
    const keep = [a.logits.data.slice(), a.value.data.slice()];
    for (let i = 0; i < 3; i++) noGrad(() => policy.forward(randn([64, 3, 9, 11], rng)));
    expect(a.logits.data).toEqual(keep[0]);
    expect(a.value.data).toEqual(keep[1]);

    const stage = new ImpalaStage(3, 8, new Rng(7));
    const x = randn([64, 3, 9, 11], rng).requireGrad();
    const y = stage.forward(x);
    const before = y.data.slice();
    y.sum().backward();
    for (let i = 0; i < 3; i++) step(policy, randn([64, 3, 9, 11], rng), "none");
    expect(y.data).toEqual(before);
  });
});
