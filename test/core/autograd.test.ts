import { describe, expect, it } from "vitest";
import { AutogradError, DTypeError, ShapeError } from "../../src/core/errors.js";
import { Tensor, noGrad, scalar, tensor } from "../../src/core/tensor.js";

describe("tape autograd", () => {
  it("accumulates through shared subexpressions and across backward calls", () => {
    const x = tensor([2, 3]).requireGrad();
    const y = x.mul(x).add(x); // x² + x, x used three times
    y.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([5, 7]);
    x.mul(2).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([7, 9]);
  });

  it("frees the graph after backward and drops non-leaf grads unless retained", () => {
    const x = tensor([1, 2]).requireGrad();
    const h = x.mul(3).retainGrad();
    const z = x.mul(2);
    const loss = h.add(z).sum();
    loss.backward();
    expect(Array.from(h.grad!.data)).toEqual([1, 1]);
    expect(z.grad).toBeNull();
    expect(() => loss.backward()).not.toThrow(); // graph freed: only the root's own grad changes
  });

  it("records nothing inside noGrad", () => {
    const x = tensor([1]).requireGrad();
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(() => y.backward()).toThrow(AutogradError);
    expect(() => y.backward()).toThrow(/does not require grad/);
  });

  it("needs an upstream gradient for non-scalars", () => {
    const x = tensor([1, 2]).requireGrad();
    expect(() => x.mul(2).backward()).toThrow(/needs a scalar/);
    const y = x.mul(2);
    y.backward(tensor([1, 10]));
    expect(Array.from(x.grad!.data)).toEqual([2, 20]);
  });

  it("checks data and shape on construction", () => {
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow(ShapeError);
    expect(() => new Tensor([1, 2] as never, [2])).toThrow(DTypeError);
    expect(scalar(3).shape).toEqual([]);
    expect(tensor([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
  });
});

describe("dtype errors", () => {
  it("say a float tensor was expected when an IntTensor reaches an arithmetic op", async () => {
    const { intTensor } = await import("../../src/core/tensor.js");
    expect(() => tensor([1, 2]).add(intTensor([1, 2]) as never)).toThrow(DTypeError);
    expect(() => tensor([1, 2]).add(intTensor([1, 2]) as never)).toThrow(/expected a float Tensor or a number, got an IntTensor/);
  });
});
