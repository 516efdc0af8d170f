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

  it("cnn: IMPALA stages with hooks on every spatial activation, heads of the right shapes, hooks that can steer", () => {
    const policy = createPolicy({ kind: "cnn", ...spec }, new Rng(2));
    const stageHooks = (s: number): string[] => [`trunk.stages.${s}.block.hook_conv0_out`, `trunk.stages.${s}.block.hook_resid_out`, `trunk.stages.${s}.hook_conv_out`, `trunk.stages.${s}.hook_pool_out`];
    expect(policy.hookNames().sort()).toEqual(["trunk.hook_dense_out", ...stageHooks(0), ...stageHooks(1)]);
    const obs = tensor(new Rng(3).fillUniform(new Float32Array(2 * 180)), [2, 3, 5, 12]);
    const { output, cache } = policy.runWithCache(obs);
    expect(output.logits.shape).toEqual([2, 4]);
    expect(cache.get("trunk.stages.0.hook_conv_out")!.shape).toEqual([2, 16, 5, 12]);
    expect(cache.get("trunk.stages.0.hook_pool_out")!.shape).toEqual([2, 16, 3, 6]);
    expect(cache.get("trunk.stages.1.block.hook_resid_out")!.shape).toEqual([2, 32, 2, 3]);
    expect(cache.get("trunk.hook_dense_out")!.shape).toEqual([2, 128]);
    // the fused ReLU inside the block: its hooked activation is rectified
    expect(Math.min(...cache.get("trunk.stages.0.block.hook_conv0_out")!.data)).toBeGreaterThanOrEqual(0);
    // zeroing the last hidden activation leaves only the (zero) head biases
    const patched = policy.runWithHooks(obs, { "trunk.hook_dense_out": (a) => zeros(a.shape) });
    expect(Array.from(patched.value.data)).toEqual([0, 0]);
    // patching a spatial activation changes the output
    const steered = policy.runWithHooks(obs, { "trunk.stages.0.hook_pool_out": (a) => zeros(a.shape) });
    expect(Array.from(steered.value.data)).not.toEqual(Array.from(output.value.data));
    // gradients reach the first conv
    const loss = output.logits.sum().add(output.value.sum());
    loss.backward();
    const conv = policy.namedParameters().find(([n]) => n === "trunk.stages.0.conv.weight")![1];
    expect(conv.grad).not.toBeNull();
    expect(Math.max(...Array.from(conv.grad!.data, Math.abs))).toBeGreaterThan(0);
  });

  it("cnn: a 20×20 grid pools to 5×5 and stays near 100k parameters; bad sizes are a ConfigError", () => {
    const policy = createPolicy({ kind: "cnn", obsShape: [4, 20, 20], numActions: 5 }, new Rng(4));
    const params = policy.namedParameters().reduce((a, [, p]) => a + p.size, 0);
    expect(params).toBeGreaterThan(50_000);
    expect(params).toBeLessThan(140_000);
    const { cache } = policy.runWithCache(zeros([1, 4, 20, 20]));
    expect(cache.get("trunk.stages.1.hook_pool_out")!.shape).toEqual([1, 32, 5, 5]);
    expect(() => createPolicy({ kind: "cnn", obsShape: [4, 20, 20], numActions: 5, hidden: [16] }, new Rng(4))).toThrow(/stage widths then the dense size/);
  });

  it("rejects an unknown model kind, listing the valid ones", () => {
    expect(() => createPolicy({ kind: "transformer", ...spec }, new Rng(1))).toThrow(/unknown model "transformer"/);
  });
});
