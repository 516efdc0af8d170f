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
