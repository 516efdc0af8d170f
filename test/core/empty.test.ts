// Zero-size tensors (an empty minibatch, no tokens) flow through the ops without special cases in callers.
import { describe, expect, it } from "vitest";
import { ShapeError } from "../../src/core/errors.js";
import { linear } from "../../src/core/ops/matmul.js";
import { concat } from "../../src/core/ops/shape.js";
import { intTensor, tensor, zeros } from "../../src/core/tensor.js";

describe("zero-size tensors", () => {
  it("pass through linear, softmax, reductions, concat, gather and permute, forward and backward", () => {
    const x = zeros([0, 3]).requireGrad();
    const w = zeros([2, 3]).requireGrad();
    const y = linear(x, w, zeros([2]));
    expect(y.shape).toEqual([0, 2]);
    y.softmax(-1).logSoftmax(-1).sum().backward();
    expect(Array.from(w.grad!.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(x.sum().item()).toBe(0);
    expect(concat([x, tensor([[1, 2, 3]])], 0).shape).toEqual([1, 3]);
    expect(x.gather(intTensor([])).shape).toEqual([0]);
    expect(x.permute([1, 0]).shape).toEqual([3, 0]);
    expect(x.max(1).shape).toEqual([0]);
  });

  it("refuse a max/min/argmax over an empty axis, as PyTorch does", () => {
    const x = zeros([0, 3]);
    expect(() => x.max(0)).toThrow(ShapeError);
    expect(() => x.min(0)).toThrow(/min: axis 0 of \[0, 3\] is empty/);
    expect(() => x.argmax(0)).toThrow(ShapeError);
  });
});
