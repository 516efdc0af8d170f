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
  });

  it("refuses a second backward() through a freed graph, as PyTorch does, and allows it when retained", () => {
    const x = tensor([1, 2]).requireGrad();
    const loss = x.mul(3).sum();
    loss.backward();
    expect(() => loss.backward()).toThrow(AutogradError);
    try {
      loss.backward();
    } catch (err) {
      expect((err as AutogradError).message).toMatch(/already freed/);
      expect((err as AutogradError).hint).toMatch(/retainGraph: true/);
    }
    // a new loss over a freed intermediate fails too (its rule is gone), instead of silently losing its gradient
    const h = x.mul(2);
    h.sum().backward();
    expect(() => h.mul(5).sum().backward()).toThrow(/already freed/);
    // retained: the second pass accumulates
    x.grad = null;
    const kept = x.mul(3).sum();
    kept.backward(undefined, { retainGraph: true });
    kept.backward();
    expect(Array.from(x.grad!.data)).toEqual([6, 6]);
    expect(() => kept.backward()).toThrow(AutogradError);
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

describe("recycled gradient and scratch buffers", () => {
  const big = (seed: number): Tensor => {
    const d = new Float32Array(1 << 16);
    for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * seed);
    return tensor(d, [256, 256]);
  };

  it("never recycle a buffer someone still holds: leaf grads via reshape, retained grads, repeated backward", async () => {
    const { conv2d } = await import("../../src/core/ops/conv.js");
    const w = big(1).requireGrad();
    const h = w.mul(2).retainGrad();
    h.reshape([-1]).tanh().sum().backward();
    const wGrad = w.grad!.data.slice();
    const hGrad = h.grad!.data.slice();
    const v = big(2).requireGrad(); // the same sizes again: the pool hands out the freed buffers
    v.reshape([-1]).mul(3).exp().sum().backward();
    v.mul(v).tanh().sum().backward();
    expect(Array.from(w.grad!.data.subarray(0, 64))).toEqual(Array.from(wGrad.subarray(0, 64)));
    expect(w.grad!.data.every((x, i) => x === wGrad[i])).toBe(true);
    expect(h.grad!.data.every((x, i) => x === hGrad[i])).toBe(true);
    // conv keeps its im2col columns for a retained graph: two backward passes give twice the filter gradient
    const x = big(3).reshape([4, 4, 64, 64]);
    const k = tensor(new Float32Array(4 * 4 * 3 * 3).map((_, i) => Math.cos(i)), [4, 4, 3, 3]).requireGrad();
    const loss = conv2d(x, k, null, { padding: 1 }).square().mean();
    loss.backward(undefined, { retainGraph: true });
    const once = k.grad!.data.slice();
    loss.backward();
    for (let i = 0; i < once.length; i++) expect(k.grad!.data[i]).toBeCloseTo(2 * once[i]!, 4);
  });
});
