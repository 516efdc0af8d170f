// Training end to end on tiny budgets: the LSA approaches one-step GD, bad configs fail before training,
// divergence stops with the step and keeps the last good weights; the softmax transformer's layers pass
// finite-difference checks and its training lowers the loss.
import { describe, expect, it } from "vitest";
import { ConfigError, DivergenceError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { tensor, type Tensor } from "../../src/core/tensor.js";
import { iclConfig, trainIcl, transformerPredictor } from "../../src/icl/train.js";
import { sampleTasks, taskConfig } from "../../src/icl/tasks.js";
import { IclTransformer } from "../../src/nn/models/icl_transformer.js";
import { gradcheck, randInputs } from "../core/gradcheck.js";

const tiny = { task: { d: 3, n: 6 }, steps: 400, batch: 128, lr: 3e-2, evalEvery: 50, evalTasks: 256, tuneTasks: 512, testTasks: 1024, seed: 1 };

describe("trainIcl (LSA)", () => {
  it("a tiny run measurably approaches the one-step GD baseline and matches it closely", async () => {
    const records: number[] = [];
    const r = await trainIcl(tiny, { onMetrics: (m) => records.push(m["eval/model_loss"]!) });
    const first = r.curve[0]!.evalLoss;
    const last = r.curve[r.curve.length - 1]!.evalLoss;
    expect(records.length).toBe(r.curve.length);
    expect(last).toBeLessThan(first);
    expect(first / r.gdEvalLoss).toBeGreaterThan(1.2); // starts far from GD…
    expect(r.vsGd.modelLoss / r.vsGd.baselineLoss).toBeLessThan(1.1); // …ends near it
    expect(r.vsGd.predictionCosine).toBeGreaterThan(0.95);
    expect(r.vsGd.sensitivityCosine).toBeGreaterThan(0.95);
    expect(r.interpolatedLoss).not.toBeNull();
    expect(r.oodVsGd.baselineLoss).toBeGreaterThan(r.vsGd.baselineLoss);
  });

  it("two layers beat two GD steps and look more like GD++ than like GD (the papers' trend)", async () => {
    const r = await trainIcl({ ...tiny, layers: 2, steps: 600, evalEvery: 100 });
    expect(r.vsGd.modelLoss).toBeLessThan(0.8 * r.vsGd.baselineLoss);
    expect(r.vsGdpp).not.toBeNull();
    expect(r.vsGdpp!.predictionCosine).toBeGreaterThan(r.vsGd.predictionCosine);
    expect(r.vsGdpp!.sensitivityCosine).toBeGreaterThan(r.vsGd.sensitivityCosine);
    expect(r.gdpp!.gammas[0]).toBeGreaterThan(0);
  });

  it("is reproducible from the seed", async () => {
    const a = await trainIcl({ ...tiny, steps: 30 });
    const b = await trainIcl({ ...tiny, steps: 30 });
    expect(a.finalTrainLoss).toBe(b.finalTrainLoss);
  });

  it("the generic autograd path trains the same model as the fused kernel (to float32 rounding), constraint included", async () => {
    for (const constrained of [false, true]) {
      const config = { ...tiny, layers: 2, steps: 40, constrained };
      const fused = await trainIcl(config, {}, { dataWorker: false });
      const autograd = await trainIcl(config, {}, { dataWorker: false, lsaPath: "autograd" });
      expect(Math.abs(autograd.finalTrainLoss / fused.finalTrainLoss - 1)).toBeLessThan(1e-3);
      for (let l = 0; l < 2; l++) {
        for (const key of ["kq", "pv"] as const) {
          const a = autograd.products![l]![key];
          const f = fused.products![l]![key];
          const scale = Math.max(...Array.from(f, Math.abs));
          for (let i = 0; i < f.length; i++) {
            expect(Math.abs(a[i]! - f[i]!)).toBeLessThan(1e-3 * scale);
            if (constrained && f[i] === 0) expect(a[i]).toBe(0); // masked entries stay exactly zero on both paths
          }
        }
      }
    }
    await expect(trainIcl({ ...tiny, steps: 1 }, {}, { lsaPath: "tape" as "fused" })).rejects.toThrow(ConfigError);
  });

  it("rejects bad d, N, layers and steps before training, naming the field", () => {
    expect(() => iclConfig({ task: { d: 0 } })).toThrow(ConfigError);
    expect(() => iclConfig({ task: { n: -1 } })).toThrow(/task\.n/);
    expect(() => iclConfig({ layers: 17 })).toThrow(/layers/);
    expect(() => iclConfig({ steps: 0 })).toThrow(/steps/);
    expect(() => iclConfig({ model: "transformer", dModel: 30, heads: 4 })).toThrow(/heads/);
    expect(() => iclConfig({ task: { d: 256, n: 1024 } })).toThrow(/GiB of task memory/);
  });

  it("stops on divergence, says at which step, suggests a smaller learning rate and saves the last good weights", async () => {
    const saved: number[] = [];
    const err = await trainIcl({ ...tiny, layers: 3, steps: 200, lr: 5, clip: 1e30, initScale: 50, evalEvery: 1 }, { onCheckpoint: (step) => saved.push(step) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).message).toMatch(/diverged at step \d+/);
    expect((err as DivergenceError).hint).toMatch(/smaller learning rate/);
    expect(saved.length).toBeGreaterThan(0);
  });
});

describe("softmax transformer", () => {
  it("the whole model (embedding, LayerNorm, masked softmax attention, MLP, head) passes a finite-difference check", () => {
    const model = new IclTransformer({ d: 2, layers: 2, dModel: 8, heads: 2 }, new Rng(5));
    gradcheck((x: Tensor) => model.forward(x), randInputs([[2, 4, 3]], 5), { atol: 5e-3, rtol: 5e-2 });
  });

  it("names hook points like TransformerLens and reports sensitivities equal to finite differences", () => {
    const model = new IclTransformer({ d: 3, layers: 1, dModel: 8, heads: 2 }, new Rng(6));
    expect(model.hookNames()).toContain("blocks.0.attn.hook_pattern");
    expect(model.hookNames()).toContain("blocks.0.hook_resid_post");
    const tasks = sampleTasks(taskConfig({ d: 3, n: 4 }), 3, new Rng(7));
    const out = transformerPredictor(model).predict(tasks);
    const h = 1e-2;
    for (let k = 0; k < 3; k++) {
      const up = Float32Array.from(tasks.tokens);
      const down = Float32Array.from(tasks.tokens);
      up[4 * 4 + k]! += h;
      down[4 * 4 + k]! -= h;
      const f = (t: Float32Array): number => model.forward(tensor(t, [3, 5, 4])).data[0]!;
      expect(out.sensitivity[k]).toBeCloseTo((f(up) - f(down)) / (2 * h), 2);
    }
  });

  it("training lowers the loss", async () => {
    const r = await trainIcl({ ...tiny, model: "transformer", dModel: 16, heads: 2, steps: 120, batch: 48, lr: 3e-3, evalEvery: 40 });
    expect(r.curve[r.curve.length - 1]!.evalLoss).toBeLessThan(0.8 * r.curve[0]!.evalLoss);
    expect(r.products).toBeNull();
    expect(Number.isFinite(r.vsGd.sensitivityCosine)).toBe(true);
  });
});
