import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { tensor, zeros } from "../../src/core/tensor.js";
import "../../src/nn/models/cnn_policy.js";
import "../../src/nn/models/mlp_policy.js";
import { createPolicy } from "../../src/nn/models/policy.js";

const spec = { obsShape: [3, 5, 12], numActions: 4 };

function rowNorms(data: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => Math.hypot(...data.subarray(r * cols, (r + 1) * cols)));
}

describe("actor-critic models", () => {
  it("mlp: CleanRL's towers, hook points on every hidden activation, orthogonal init with PPO's gains", () => {
    const policy = createPolicy({ kind: "mlp", ...spec }, new Rng(1));
    expect(policy.hookNames().sort()).toEqual(["policy.hook_hidden_0", "policy.hook_hidden_1", "value.hook_hidden_0", "value.hook_hidden_1"]);
    const sd = policy.stateDict();
    expect(sd["policy.layers.0.weight"]!.shape).toEqual([64, 180]);
    expect(sd["policy.layers.2.weight"]!.shape).toEqual([4, 64]);
    // orthogonal rows (64 ≤ 180) scaled by the gain: norms √2 (hidden), 0.01 (policy head), 1 (value head)
    for (const n of rowNorms(sd["policy.layers.0.weight"]!.data, 64, 180)) expect(n).toBeCloseTo(Math.SQRT2, 4);
    for (const n of rowNorms(sd["policy.layers.2.weight"]!.data, 4, 64)) expect(n).toBeCloseTo(0.01, 6);
    for (const n of rowNorms(sd["value.layers.2.weight"]!.data, 1, 64)) expect(n).toBeCloseTo(1, 5);
    expect(Array.from(sd["policy.layers.0.bias"]!.data).every((b) => b === 0)).toBe(true);
    const { output, cache } = policy.runWithCache(zeros([2, 3, 5, 12]));
    expect(output.logits.shape).toEqual([2, 4]);
    expect(output.value.shape).toEqual([2, 1]);
    expect(cache.get("policy.hook_hidden_1")!.shape).toEqual([2, 64]);
  });

  it("cnn: reduced IMPALA trunk with hooks, heads of the right shapes, and hooks that can steer the output", () => {
    const policy = createPolicy({ kind: "cnn", ...spec }, new Rng(2));
    expect(policy.hookNames().sort()).toEqual(["trunk.hook_hidden_0", "trunk.hook_hidden_1", "trunk.hook_hidden_2"]);
    const obs = tensor(new Rng(3).fillUniform(new Float32Array(2 * 180)), [2, 3, 5, 12]);
    const { output, cache } = policy.runWithCache(obs);
    expect(output.logits.shape).toEqual([2, 4]);
    expect(cache.get("trunk.hook_hidden_0")!.shape).toEqual([2, 16, 5, 12]);
    expect(cache.get("trunk.hook_hidden_2")!.shape).toEqual([2, 128]);
    // zeroing the last hidden activation leaves only the (zero) head biases
    const patched = policy.runWithHooks(obs, { "trunk.hook_hidden_2": (a) => zeros(a.shape) });
    expect(Array.from(patched.value.data)).toEqual([0, 0]);
    // gradients reach the first conv
    const loss = output.logits.sum().add(output.value.sum());
    loss.backward();
    const conv = policy.namedParameters().find(([n]) => n === "trunk.conv.weight")![1];
    expect(conv.grad).not.toBeNull();
    expect(Math.max(...Array.from(conv.grad!.data, Math.abs))).toBeGreaterThan(0);
  });

  it("rejects an unknown model kind, listing the valid ones", () => {
    expect(() => createPolicy({ kind: "transformer", ...spec }, new Rng(1))).toThrow(/unknown model "transformer"/);
  });
});
