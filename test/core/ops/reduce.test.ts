import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { argmax, max, mean, min, sum } from "../../../src/core/ops/reduce.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("reductions", () => {
  const x = tensor([[1, 5, 3], [4, 2, 6]]);
  it("sum/mean/max/min over axes, all, and with keepDim", () => {
    expect(sum(x).item()).toBe(21);
    expect(sum(x, 0).toArray()).toEqual([5, 7, 9]);
    expect(sum(x, -1, true).toArray()).toEqual([[9], [12]]);
    expect(mean(x, 1).toArray()).toEqual([3, 4]);
    expect(mean(x, [0, 1]).item()).toBe(3.5);
    expect(max(x, 1).toArray()).toEqual([5, 6]);
    expect(min(x, 0).toArray()).toEqual([1, 2, 3]);
    expect(max(x).item()).toBe(6);
    expect(max(x).shape).toEqual([]);
    expect(Array.from(argmax(x, 1).data)).toEqual([1, 2]);
  });

  it("have correct gradients", () => {
    const [a] = randInputs([[2, 3, 4]], 12);
    for (const ax of [undefined, 0, 1, 2, [0, 2], [1, 2]] as const) {
      gradcheck((t) => sum(t!, ax as never), [a!]);
      gradcheck((t) => mean(t!, ax as never, true), [a!]);
      gradcheck((t) => max(t!, ax as never), [a!], { eps: 1e-3 });
      gradcheck((t) => min(t!, ax as never), [a!], { eps: 1e-3 });
    }
  });

  it("reject a bad axis naming the op", () => {
    expect(() => sum(x, 2)).toThrow(ShapeError);
    expect(() => sum(x, 2)).toThrow(/sum: axis 2 is out of range for a tensor of 2 dims/);
  });
});
