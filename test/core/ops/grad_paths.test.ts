// The backward rules write a gradient in one pass when the input has none yet and accumulate otherwise; these
// tests run each rule both ways (the second use of an input accumulates) against hand-computed gradients.
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import { type Tensor, tensor } from "../../../src/core/tensor.js";

function rand(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(new Rng(seed).fillUniform(new Float32Array(n), -1, 1) as Float32Array, shape).requireGrad();
}

const close = (got: Float32Array, want: ArrayLike<number>): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
};

describe("write-once and accumulating gradient paths", () => {
  it("sum over the last axis: d/dx of Σ_rows w_row·Σ_j x_row,j, used once and twice", () => {
    const x = rand([4, 3], 1);
    const w = tensor([1, -2, 0.5, 3], [4]);
    x.sum(-1).mul(w).sum().backward();
    close(x.grad!.data, [1, 1, 1, -2, -2, -2, 0.5, 0.5, 0.5, 3, 3, 3]);
    x.grad = null;
    x.sum(-1).mul(w).sum().add(x.sum(1, true).sum().mul(2)).backward();
    close(x.grad!.data, [3, 3, 3, 0, 0, 0, 2.5, 2.5, 2.5, 5, 5, 5]);
  });

  it("mean of everything writes 1/n, twice adds up", () => {
    const x = rand([2, 5], 2);
    x.mean().add(x.mean()).backward();
    close(x.grad!.data, new Array(10).fill(0.2));
  });

  it("same-shape mul, add and sub, including an input used on both sides", () => {
    const a = rand([3, 4], 3), b = rand([3, 4], 4);
    a.mul(b).add(a.sub(b)).add(a.mul(a)).sum().backward();
    const want = (i: number) => b.data[i]! + 1 + 2 * a.data[i]!;
    close(a.grad!.data, Array.from({ length: 12 }, (_, i) => want(i)));
    close(b.grad!.data, Array.from({ length: 12 }, (_, i) => a.data[i]! - 1));
  });

  it("exp, log-softmax and softmax over rows", () => {
    const x = rand([3, 5], 5);
    const w = rand([3, 5], 6);
    x.logSoftmax(-1).mul(w.detach()).sum().add(x.exp().sum()).backward();
    const X = x.data, W = w.data;
    const want: number[] = [];
    for (let r = 0; r < 3; r++) {
      let m = -Infinity, s = 0, ws = 0;
      for (let j = 0; j < 5; j++) m = Math.max(m, X[r * 5 + j]!);
      for (let j = 0; j < 5; j++) { s += Math.exp(X[r * 5 + j]! - m); ws += W[r * 5 + j]!; }
      for (let j = 0; j < 5; j++) want.push(W[r * 5 + j]! - (Math.exp(X[r * 5 + j]! - m) / s) * ws + Math.exp(X[r * 5 + j]!));
    }
    close(x.grad!.data, want);
    const y = rand([2, 3], 7);
    y.softmax(-1).mul(tensor([1, 0, 0, 0, 0, 1], [2, 3])).sum().backward();
    const Y = y.data;
    for (let r = 0; r < 2; r++) {
      const e = [0, 1, 2].map((j) => Math.exp(Y[r * 3 + j]!));
      const s = e[0]! + e[1]! + e[2]!;
      const p = e.map((v) => v / s);
      const k = r === 0 ? 0 : 2;
      for (let j = 0; j < 3; j++) expect(y.grad!.data[r * 3 + j]).toBeCloseTo(p[k]! * ((j === k ? 1 : 0) - p[j]!), 5);
    }
  });

  it("log-softmax keeps its saved softmax across a retained graph, and −∞ logits get zero gradient", () => {
    const x = tensor([[0.5, -Infinity, 1.5], [2, 1, 0]]).requireGrad();
    const y = x.logSoftmax(-1).mul(tensor([[1, 0, 0], [0, 0, 1]])).sum();
    y.backward(undefined, { retainGraph: true });
    const once = x.grad!.data.slice();
    y.backward();
    const p0 = Math.exp(0.5) / (Math.exp(0.5) + Math.exp(1.5));
    close(once, [1 - p0, 0, -(1 - p0), ...[2, 1, 0].map((v, j) => (j === 2 ? 1 : 0) - Math.exp(v) / (Math.exp(2) + Math.exp(1) + 1))]);
    close(x.grad!.data, Array.from(once, (v) => 2 * v));
  });
});
