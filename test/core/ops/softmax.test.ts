import { describe, expect, it } from "vitest";
import { logSoftmax, logSumExp, softmax } from "../../../src/core/ops/softmax.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("softmax family", () => {
  it("is stable for large logits and sums to one", () => {
    const p = softmax(tensor([[1000, 1000], [0, Math.log(3)]]));
    expect(p.data[0]).toBeCloseTo(0.5, 6);
    expect(p.data[3]).toBeCloseTo(0.75, 6);
    const lp = logSoftmax(tensor([[1000, 0]]));
    expect(lp.data[0]).toBeCloseTo(0, 6);
    expect(lp.data[1]).toBeCloseTo(-1000, 3);
    expect(logSumExp(tensor([[0, 0]])).data[0]).toBeCloseTo(Math.log(2), 6);
  });

  it("has correct gradients along any axis", () => {
    const [x] = randInputs([[2, 3, 4]], 13, -2, 2);
    for (const ax of [0, 1, -1]) {
      gradcheck((t) => softmax(t!, ax), [x!], { eps: 1e-3 });
      gradcheck((t) => logSoftmax(t!, ax), [x!], { eps: 1e-3 });
      gradcheck((t) => logSumExp(t!, ax), [x!], { eps: 1e-3 });
    }
  });
});

describe("crossEntropy", () => {
  it("equals −mean(logSoftmax gathered at the targets) and has the softmax − one-hot gradient", async () => {
    const { crossEntropy } = await import("../../../src/core/ops/softmax.js");
    const { intTensor } = await import("../../../src/core/tensor.js");
    const [x] = randInputs([[4, 3]], 17, -2, 2);
    const t = intTensor([2, 0, 1, 2]);
    const ref = logSoftmax(x!).gather(t).mean().neg().item();
    expect(crossEntropy(x!, t).item()).toBeCloseTo(ref, 6);
    gradcheck((a) => crossEntropy(a!, t), [x!], { eps: 1e-3 });
    gradcheck((a) => crossEntropy(a!, t, "none"), [x!], { eps: 1e-3 });
    gradcheck((a) => crossEntropy(a!, t, "sum"), [x!], { eps: 1e-3 });
    expect(() => crossEntropy(x!, intTensor([0, 1, 2, 3]))).toThrow(/target 3 \(row 3\) is out of range for 3 classes/);
  });
});
