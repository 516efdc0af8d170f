// The CNN's recurrent-in-depth option (`iterations`: the last stage's residual block run R times with shared
// weights): R = 1 is the plain network bit for bit, R passes equal the block applied R times by hand, the shared
// weights' gradients (summed over the passes) match finite differences, and the per-pass hook points read and
// replace what the header says.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, noGrad, randn } from "../../src/core/tensor.js";
import { maxPool2d } from "../../src/core/ops/conv.js";
import { CnnActorCritic, ImpalaStage } from "../../src/nn/models/cnn_policy.js";

const spec = { kind: "cnn", obsShape: [3, 9, 9], numActions: 4, hidden: [4, 6, 16] };
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("CNN iterations (shared-weight residual passes)", () => {
  it("with iterations=1 is the plain network: same parameters, hook names, outputs and gradients, bit for bit", () => {
    const plain = new CnnActorCritic(spec, new Rng(3));
    const one = new CnnActorCritic({ ...spec, options: { iterations: 1 } }, new Rng(3));
    expect(one.hookNames()).toEqual(plain.hookNames());
    expect(one.namedParameters().map(([n]) => n)).toEqual(plain.namedParameters().map(([n]) => n));
    const obs = randn([5, 3, 9, 9], new Rng(4));
    const run = (p: CnnActorCritic): Float32Array[] => {
      const out = p.forward(obs);
      out.logits.mul(out.logits).sum().add(out.value.sum()).backward();
      return [out.logits.data, out.value.data, ...p.parameters().map((q) => q.grad!.data)];
    };
    const a = run(plain);
    const b = run(one);
    a.forEach((x, k) => expect(same(x, b[k]!), `array ${k}`).toBe(true));
  });

  it("adds no parameters, and R passes equal the block applied R times by hand", () => {
    const plain = new CnnActorCritic(spec, new Rng(3));
    const four = new CnnActorCritic({ ...spec, options: { iterations: 4 } }, new Rng(3));
    expect(four.numParameters()).toBe(plain.numParameters());
    const stage = four.trunk.stages[1]!;
    expect(stage.iterations).toBe(4);
    expect(four.trunk.stages[0]!.iterations).toBe(1);
    const x = randn([3, 4, 5, 5], new Rng(8));
    noGrad(() => {
      let h = maxPool2d(stage.conv.forward(x), 3, { stride: 2, padding: 1 });
      for (let t = 0; t < 4; t++) h = stage.block.forward(h);
      const got = stage.forward(x);
      expect(got.shape).toEqual([3, 6, 3, 3]);
      expect(Array.from(got.data)).toEqual(Array.from(h.data));
    });
    // it computes something different from one pass
    const obs = randn([2, 3, 9, 9], new Rng(9));
    const o1 = noGrad(() => plain.forward(obs).logits.data.slice());
    const o4 = noGrad(() => four.forward(obs).logits.data.slice());
    expect(same(o1, o4)).toBe(false);
  });

  it("sums the shared weights' gradients over the passes (finite differences)", () => {
    const stage = new ImpalaStage(2, 3, new Rng(11), 3);
    const x = randn([2, 2, 7, 7], new Rng(12));
    const w = randn([2, 3, 4, 4], new Rng(13));
    const loss = (): number => {
      const out = noGrad(() => stage.forward(x));
      let s = 0;
      for (let i = 0; i < out.size; i++) s += w.data[i]! * out.data[i]!;
      return s;
    };
    for (const p of stage.parameters()) p.grad = null;
    stage.forward(x).mul(w).sum().backward();
    // a small step: three passes compound the ReLUs' and the pooling's kinks, so a step of 1e-3 already crosses
    // some (central differences then disagree with themselves between 1e-2 and 1e-3; at 1e-4 they agree)
    const eps = 1e-4;
    let checked = 0;
    for (const p of [stage.block.conv0.weight, stage.block.conv1.weight, stage.block.conv0.bias!, stage.conv.weight]) {
      for (let i = 0; i < p.size; i += 5) {
        const orig = p.data[i]!;
        p.data[i] = orig + eps;
        const up = loss();
        p.data[i] = orig - eps;
        const down = loss();
        p.data[i] = orig;
        const numeric = (up - down) / (2 * eps);
        expect(Math.abs(p.grad!.data[i]! - numeric), `element ${i}: analytic ${p.grad!.data[i]} numeric ${numeric}`).toBeLessThan(2e-2 + 2e-2 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("names one hook point per pass; the block's own points keep the last pass; a replacing hook changes one pass", () => {
    const p = new CnnActorCritic({ ...spec, options: { iterations: 3 } }, new Rng(3));
    const names = p.hookNames();
    for (let t = 0; t < 3; t++) expect(names).toContain(`trunk.stages.1.hook_iter_out.${t}`);
    expect(names).not.toContain("trunk.stages.0.hook_iter_out.0");
    const obs = randn([2, 3, 9, 9], new Rng(5));
    const plainOut = noGrad(() => p.forward(obs));
    const { output, cache } = noGrad(() => p.runWithCache(obs));
    expect(Array.from(output.logits.data)).toEqual(Array.from(plainOut.logits.data));
    const last: Tensor = cache.get("trunk.stages.1.hook_iter_out.2")!;
    expect(Array.from(cache.get("trunk.stages.1.block.hook_resid_out")!.data)).toEqual(Array.from(last.data));
    expect(same(cache.get("trunk.stages.1.hook_iter_out.0")!.data, last.data)).toBe(false);
    // zeroing the first pass's output changes the logits; the others' caches stay consistent with a fresh run
    const zeroed = noGrad(() => p.runWithHooks(obs, { "trunk.stages.1.hook_iter_out.0": (a) => a.mul(0) }));
    expect(same(zeroed.logits.data, plainOut.logits.data)).toBe(false);
  });

  it("refuses a bad iterations value with the flag to fix", () => {
    for (const bad of [0, 1.5, "x", 65]) {
      expect(() => new CnnActorCritic({ ...spec, options: { iterations: bad } }, new Rng(1))).toThrow(ConfigError);
    }
    expect(() => new CnnActorCritic({ ...spec, options: { iterations: 0 } }, new Rng(1))).toThrow(/iterations/);
  });
});
