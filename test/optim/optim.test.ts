import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { tensor, type Tensor } from "../../src/core/tensor.js";
import { Adam, AdamW } from "../../src/optim/adam.js";
import { SGD } from "../../src/optim/sgd.js";
import { clipGradNorm, gradNorm } from "../../src/optim/clip.js";
import { cosineSchedule, linearSchedule } from "../../src/optim/schedules.js";

/** f(p) = Σ c·p² with fixed c, gradient 2c·p */
function quadStep(p: Tensor): void {
  p.mul(tensor([1, 2, 3])).mul(p).sum().backward();
}

describe("optimizers", () => {
  it("Adam's first step moves each weight by lr against the gradient sign; weight decay styles differ", () => {
    const p = tensor([1, -2, 3]).requireGrad();
    const opt = new Adam([p], { lr: 0.1 });
    quadStep(p);
    opt.step();
    expect(Array.from(p.data).map((v) => +v.toFixed(5))).toEqual([0.9, -1.9, 2.9]);
    const q = tensor([1, 1, 1]).requireGrad();
    const w = new AdamW([q], { lr: 0.1, weightDecay: 0.5 });
    q.grad = tensor([0, 0, 0]);
    w.step();
    expect(q.data[0]).toBeCloseTo(0.95, 6);
  });

  it("matches torch.optim.Adam over several steps (values printed by PyTorch 1.13)", () => {
    // torch: p=[1,-2,3]; Adam(lr=0.1); 3 steps on sum([1,2,3]*p*p)
    const p = tensor([1, -2, 3]).requireGrad();
    const opt = new Adam([p], { lr: 0.1 });
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      quadStep(p);
      opt.step();
    }
    const expected = [0.7015863060951233, -1.7006233930587769, 2.7003815174102783];
    for (let i = 0; i < 3; i++) expect(p.data[i]).toBeCloseTo(expected[i]!, 5);
  });

  it("SGD with momentum follows the heavy-ball recursion", () => {
    const p = tensor([1, 1, 1]).requireGrad();
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = tensor([1, 1, 1]);
    opt.step(); // buf = 1, p = 0.9
    opt.step(); // buf = 1.9, p = 0.71
    expect(p.data[0]).toBeCloseTo(0.71, 6);
    expect(() => new SGD([p], { nesterov: true })).toThrow(ConfigError);
  });

  it("restores state so a resumed run matches the uninterrupted one bit for bit", () => {
    const run = (split: boolean): Float32Array => {
      let p = tensor([1, -2, 3]).requireGrad();
      let opt = new Adam([p], { lr: 0.05 });
      for (let i = 0; i < 10; i++) {
        if (split && i === 5) {
          const state = opt.getState();
          const saved = p.data.slice();
          p = tensor(saved).requireGrad();
          opt = new Adam([p], { lr: 0.05 });
          opt.setState(state);
        }
        opt.zeroGrad();
        quadStep(p);
        opt.step();
      }
      return p.data;
    };
    expect(Array.from(run(true))).toEqual(Array.from(run(false)));
  });
});

describe("gradient clipping and schedules", () => {
  it("clips the global norm and reports the norm before clipping", () => {
    const a = tensor([0, 0]).requireGrad();
    const b = tensor([0]).requireGrad();
    a.grad = tensor([3, 0]);
    b.grad = tensor([4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(gradNorm([a, b])).toBeCloseTo(1, 5);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5);
    expect(gradNorm([a, b])).toBeCloseTo(1, 5);
  });

  it("linear and cosine schedules hit their endpoints, with warmup", () => {
    const lin = linearSchedule(1, 0, 10);
    expect([lin(0), lin(5), lin(10), lin(20)]).toEqual([1, 0.5, 0, 0]);
    const cos = cosineSchedule(1, 0.1, 10, 2);
    expect(cos(0)).toBeCloseTo(0.5);
    expect(cos(2)).toBeCloseTo(1);
    expect(cos(6)).toBeCloseTo(0.55);
    expect(cos(12)).toBeCloseTo(0.1);
    expect(() => linearSchedule(1, 0, 0)).toThrow(ConfigError);
  });
});
