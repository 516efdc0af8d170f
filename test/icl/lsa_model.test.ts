// The LSA module (autograd, float32) against the fused float64 kernel: same predictions, same gradients, and a
// finite-difference check through every op of the layer; hook points named as TransformerLens names them.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { tensor } from "../../src/core/tensor.js";
import { LsaKernel, zeroProducts } from "../../src/icl/lsa_kernel.js";
import { sampleTasks, taskConfig } from "../../src/icl/tasks.js";
import { lsaProducts, setGradsFromProducts } from "../../src/icl/lsa_weights.js";
import { LSA } from "../../src/nn/models/lsa.js";
import { gradcheck } from "../core/gradcheck.js";

const d = 3;
const n = 4;
const batch = 6;

function setup(layers: number, constrained = false): { model: LSA; tasks: ReturnType<typeof sampleTasks> } {
  const model = new LSA({ d, layers, initScale: 1, constrained }, new Rng(3, layers));
  const tasks = sampleTasks(taskConfig({ d, n }), batch, new Rng(9));
  return { model, tasks };
}

describe("LSA module", () => {
  it("names parameters and hook points like TransformerLens", () => {
    const { model } = setup(2);
    const names = model.namedParameters().map(([name]) => name);
    expect(names).toContain("blocks.0.attn.W_Q");
    expect(names).toContain("blocks.1.attn.W_O");
    const hooks = model.hookNames();
    for (const h of ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out", "blocks.0.attn.hook_attn_scores"]) expect(hooks).toContain(h);
  });

  for (const layers of [1, 2, 3]) {
    for (const constrained of [false, true]) {
      it(`${layers} layer(s)${constrained ? ", constrained" : ""}: forward and parameter gradients equal the fused kernel's`, () => {
        const { model, tasks } = setup(layers, constrained);
        const tokens = tensor(Float32Array.from(tasks.tokens), [batch, n + 1, d + 1]);
        const targets = tensor(Float32Array.from(tasks.targets), [batch]);
        const pred = model.forward(tokens);
        const kernel = new LsaKernel(layers, n, d);
        const products = lsaProducts(model);
        const ref = kernel.predict(products, tasks.tokens, batch);
        for (let b = 0; b < batch; b++) expect(pred.data[b]).toBeCloseTo(ref[b]!, 4);
        const loss = pred.sub(targets).square().mean();
        loss.backward();
        const auto = model.parameters().map((p) => Float32Array.from(p.grad!.data));
        const grads = zeroProducts(d + 1, layers);
        const fusedLoss = kernel.lossAndGrad(products, tasks.tokens, tasks.targets, batch, grads);
        expect(loss.item()).toBeCloseTo(fusedLoss, 4);
        setGradsFromProducts(model, grads);
        model.parameters().forEach((p, i) => {
          const a = auto[i]!;
          const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
          // constrained entries sit at exactly zero and get no gradient from the fused path
          for (let j = 0; j < a.length; j++) if (p.data[j] !== 0) expect(Math.abs(p.grad!.data[j]! - a[j]!) / scale).toBeLessThan(1e-4);
        });
      });
    }
  }

  it("caches activations for interpretability: residual streams equal the kernel's, the pattern is [batch, 1, T, T]", () => {
    const { model, tasks } = setup(2);
    const tokens = tensor(Float32Array.from(tasks.tokens), [batch, n + 1, d + 1]);
    const { cache } = model.runWithCache(tokens);
    expect(cache.get("blocks.1.attn.hook_pattern")!.shape).toEqual([batch, 1, n + 1, n + 1]);
    const res = new LsaKernel(2, n, d).residuals(lsaProducts(model), tasks.tokens, batch);
    const post = cache.get("blocks.0.hook_resid_post")!.data;
    for (let i = 0; i < post.length; i++) expect(post[i]).toBeCloseTo(res[1]![i]!, 4);
  });

  it("passes a finite-difference gradient check with respect to its input tokens", () => {
    const { model, tasks } = setup(2);
    const tokens = tensor(Float32Array.from(tasks.tokens), [batch, n + 1, d + 1]);
    gradcheck((x) => model.forward(x), [tokens], { eps: 1e-2, atol: 5e-3, rtol: 3e-2 });
  });

  it("the constraint keeps the masked weights at zero and the prediction GD-shaped", () => {
    const { model } = setup(1, true);
    const a = model.blocks[0]!.attn;
    for (let h = 0; h < model.keySize; h++) {
      expect(Math.abs(a.W_Q.data[d * model.keySize + h]!)).toBe(0);
      expect(Math.abs(a.W_K.data[d * model.keySize + h]!)).toBe(0);
    }
    const p = lsaProducts(model)[0]!;
    for (let r = 0; r < d; r++) for (let c = 0; c <= d; c++) expect(Math.abs(p.pv[r * (d + 1) + c]!)).toBe(0);
  });
});
