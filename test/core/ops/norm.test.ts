import { describe, expect, it } from "vitest";
import { layerNorm } from "../../../src/core/ops/norm.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("layerNorm", () => {
  it("normalises the last dim to zero mean and unit (biased) variance", () => {
    const y = layerNorm(tensor([[1, 2, 3, 4], [2, 2, 2, 2]]), null, null);
    const r = Array.from(y.data.subarray(0, 4));
    expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    expect(r.reduce((a, b) => a + b * b, 0) / 4).toBeCloseTo(1 / (1 + 1e-5 / 1.25), 4);
    expect(Array.from(y.data.subarray(4))).toEqual([0, 0, 0, 0]);
  });

  it("has correct gradients for input, weight and bias", () => {
    const [x, w, b] = randInputs([[3, 5], [5], [5]], 21);
    gradcheck((p, q, r) => layerNorm(p!, q!, r!), [x!, w!, b!], { eps: 1e-3 });
    gradcheck((p) => layerNorm(p!, null, null), [x!], { eps: 1e-3 });
  });

  it("names the shapes when the affine does not fit", () => {
    expect(() => layerNorm(tensor([[1, 2]]), tensor([1, 2, 3]), null)).toThrow(/layerNorm: weight \[3\] does not match the normalised dim 2/);
  });
});
