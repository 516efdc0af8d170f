// The public surface loads (the tensor ↔ ops import cycle resolves from the package entry) and the doc example runs.
import { describe, expect, it } from "vitest";
import { Adam, MLP, Rng, intTensor, noGrad, randn, tensor } from "../../src/index.js";

describe("public API", () => {
  it("runs the example from the tensor.ts doc comment", () => {
    const rng = new Rng(0);
    const x = tensor([[1, 2], [3, 4]]);
    const w = randn([3, 2], rng).requireGrad();
    const y = x.matmul(w, { transB: true }).tanh();
    const loss = y.sub(1).pow(2).mean();
    loss.backward();
    expect(w.grad!.shape).toEqual([3, 2]);
    const logp = noGrad(() => y.logSoftmax(-1));
    expect(logp.gather(intTensor([0, 2])).shape).toEqual([2]);
    const net = new MLP([2, 4, 1], rng);
    expect(new Adam(net.parameters()).params.length).toBe(4);
  });
});
