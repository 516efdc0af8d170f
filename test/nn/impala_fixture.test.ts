// The CNN policy's IMPALA stage (conv → max-pool → residual block with fused ReLUs and residual add) against
// PyTorch: test/fixtures/make_impala_fixture.py wrote a stage's weights, a fixed input, torch's output and the
// gradients of sum(w · output); our ImpalaStage loaded with the same weights must agree on all of them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { tensor } from "../../src/core/tensor.js";
import { ImpalaStage } from "../../src/nn/models/cnn_policy.js";

interface Fixture {
  input: { shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
  weights: number[];
  params: Record<string, { shape: number[]; data: number[] }>;
  grads: Record<string, number[]>;
  input_grad: number[];
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/torch_impala_expected.json", import.meta.url), "utf8")) as Fixture;

function expectClose(actual: Float32Array, expected: readonly number[], what: string, tol = 2e-5): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Math.abs(actual[i]! - e) > tol * (1 + Math.abs(e))) throw new Error(`${what}[${i}]: ours ${actual[i]} vs torch ${e}`);
  }
}

describe("IMPALA stage vs PyTorch", () => {
  it("has PyTorch's parameter names and shapes, and matches its output and every gradient", () => {
    const stage = new ImpalaStage(3, 5, new Rng(1));
    const ours = new Map(stage.namedParameters());
    expect([...ours.keys()].sort()).toEqual(Object.keys(fixture.params).sort());
    for (const [name, p] of Object.entries(fixture.params)) {
      const param = ours.get(name)!;
      expect(param.shape, name).toEqual(p.shape);
      param.data.set(p.data);
    }
    const x = tensor(Float32Array.from(fixture.input.data), fixture.input.shape).requireGrad();
    const y = stage.forward(x);
    expect(y.shape).toEqual(fixture.output.shape);
    expectClose(y.data, fixture.output.data, "output");
    y.backward(Float32Array.from(fixture.weights));
    expectClose(x.grad!.data, fixture.input_grad, "input gradient", 1e-4);
    for (const [name, g] of Object.entries(fixture.grads)) expectClose(ours.get(name)!.grad!.data, g, `${name} gradient`, 1e-4);
  });
});
