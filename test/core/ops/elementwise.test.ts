import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { add, clamp, div, gt, maximum, minimum, mul, sub, where } from "../../../src/core/ops/elementwise.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("broadcasting binary ops", () => {
  it("broadcast like NumPy", () => {
    expect(add(tensor([[1, 2, 3], [4, 5, 6]]), tensor([10, 20, 30])).toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
    expect(sub(tensor([[1], [2]]), tensor([1, 2, 3])).toArray()).toEqual([[0, -1, -2], [1, 0, -1]]);
    expect(mul(tensor([1, 2]), 3).toArray()).toEqual([3, 6]);
    expect(div(6, tensor([1, 2, 3])).toArray()).toEqual([6, 3, 2]);
  });

  for (const [name, f] of [["add", add], ["sub", sub], ["mul", mul], ["div", div]] as const) {
    it(`${name} has correct gradients, same shape and broadcast both ways`, () => {
      const [a, b] = randInputs([[3, 4], [3, 4]], 1, 0.5, 2);
      gradcheck((x, y) => f(x!, y!), [a!, b!]);
      const [c, d] = randInputs([[2, 3, 4], [3, 1]], 2, 0.5, 2);
      gradcheck((x, y) => f(x!, y!), [c!, d!]);
      const [e, h] = randInputs([[1, 4], [3, 1]], 3, 0.5, 2);
      gradcheck((x, y) => f(x!, y!), [e!, h!]);
      const [s, t] = randInputs([[], [2, 3]], 4, 0.5, 2);
      gradcheck((x, y) => f(x!, y!), [s!, t!]);
    });
  }

  it("minimum/maximum pick elementwise and route the gradient to the chosen side", () => {
    expect(minimum(tensor([1, 5]), tensor([3, 2])).toArray()).toEqual([1, 2]);
    expect(maximum(tensor([1, 5]), tensor([3, 2])).toArray()).toEqual([3, 5]);
    const [a, b] = randInputs([[3, 4], [4]], 5);
    gradcheck((x, y) => minimum(x!, y!), [a!, b!]);
    gradcheck((x, y) => maximum(x!, y!), [a!, b!]);
  });

  it("comparisons give 0/1 masks", () => {
    expect(gt(tensor([1, 2, 3]), 2).toArray()).toEqual([0, 0, 1]);
  });

  it("names the op and both shapes when shapes do not broadcast", () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(ShapeError);
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(/add: shapes \[3\] and \[2\] cannot be broadcast/);
  });
});

describe("where and clamp", () => {
  it("where selects and passes gradients to the selected side", () => {
    const cond = tensor([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 0]]);
    const [a, b] = randInputs([[3, 4], [4]], 6);
    gradcheck((x, y) => where(cond, x!, y!), [a!, b!]);
    expect(where(tensor([1, 0]), tensor([1, 2]), 9).toArray()).toEqual([1, 9]);
  });

  it("clamp bounds values and has PyTorch's gradient", () => {
    expect(clamp(tensor([-2, 0, 2]), -1, 1).toArray()).toEqual([-1, 0, 1]);
    const [a] = randInputs([[20]], 7, -2, 2);
    gradcheck((x) => clamp(x!, -0.8, 0.8), [a!], { eps: 1e-3 });
    expect(clamp(tensor([-5, 5]), null, 1).toArray()).toEqual([-5, 1]);
  });
});
