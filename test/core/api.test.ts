// The public surface loads and the doc example runs; tensor.ts imports no op (the op families attach the methods).
import { readFileSync } from "node:fs";
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

  it("keeps tensor.ts free of op imports: the op families attach every method", () => {
    const source = readFileSync(new URL("../../src/core/tensor.ts", import.meta.url), "utf8");
    const imports = [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports).toEqual(["./errors.js", "./pool.js", "./shape.js"]);
    const methods = [
      "add", "sub", "mul", "div", "minimum", "maximum", "gt", "ge", "lt", "le", "eq", "clamp", "neg", "exp", "log", "sqrt", "abs", "pow",
      "square", "tanh", "relu", "sigmoid", "gelu", "sum", "mean", "max", "min", "argmax", "logSumExp", "softmax", "logSoftmax", "reshape",
      "flatten", "squeeze", "unsqueeze", "transpose", "permute", "slice", "expand", "gather", "indexSelect", "matmul",
    ];
    const proto = tensor([1]).constructor.prototype as Record<string, unknown>;
    expect(methods.filter((m) => typeof proto[m] !== "function")).toEqual([]);
    expect(tensor([[1, 2]]).transpose().sum().item()).toBe(3);
  });
});
