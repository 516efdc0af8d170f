import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { linear } from "../../src/core/ops/matmul.js";
import { type Tensor, tensor, zeros } from "../../src/core/tensor.js";
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

  it("mlp: the towers are the fused MLP, giving the bits of linear → tanh op by op, under the parameter names checkpoints have", () => {
    const policy = createPolicy({ kind: "mlp", ...spec }, new Rng(5));
    // the names every saved MLP checkpoint holds: they load unchanged
    expect(policy.namedParameters().map(([n]) => n)).toEqual(
      ["policy", "value"].flatMap((t) => [0, 1, 2].flatMap((i) => [`${t}.layers.${i}.weight`, `${t}.layers.${i}.bias`])),
    );
    // non-zero biases so the bias path is exercised too
    for (const [name, p] of policy.namedParameters()) if (name.endsWith("bias")) p.data.set(new Rng(6).fillUniform(new Float32Array(p.size), -0.5, 0.5));
    const obs = tensor(new Rng(7).fillUniform(new Float32Array(9 * 180), -1, 1), [9, 3, 5, 12]);
    const grads = (): Float32Array[] => policy.parameters().map((p) => p.grad!.data.slice());
    policy.zeroGrad();
    const fused = policy.forward(obs);
    fused.logits.square().sum().add(fused.value.sum()).backward();
    const fusedGrads = grads();
    // the reference: every layer as separate linear and tanh ops, from the same parameters
    const params = new Map(policy.namedParameters());
    const tower = (name: string, x: Tensor): Tensor => {
      for (let i = 0; i < 2; i++) x = linear(x, params.get(`${name}.layers.${i}.weight`)!, params.get(`${name}.layers.${i}.bias`)!).tanh();
      return linear(x, params.get(`${name}.layers.2.weight`)!, params.get(`${name}.layers.2.bias`)!);
    };
    policy.zeroGrad();
    const flat = obs.reshape([9, 180]);
    const logits = tower("policy", flat);
    const value = tower("value", flat);
    logits.square().sum().add(value.sum()).backward();
    expect(fused.logits.data).toEqual(logits.data);
    expect(fused.value.data).toEqual(value.data);
    const refGrads = grads();
    for (let i = 0; i < refGrads.length; i++) expect(fusedGrads[i]).toEqual(refGrads[i]);
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

  it("cnn pool=agent: the dense layer reads the last stage at the agent's tile, followed through the poolings", () => {
    const env = { channels: ["agent", "wall", "goal"], agentChannel: "agent", actions: ["u", "d", "l", "r"] };
    const policy = createPolicy({ kind: "cnn", obsShape: [3, 17, 17], numActions: 4, hidden: [4, 6, 8], env, options: { pool: "agent" } }, new Rng(9));
    const obs = new Float32Array(2 * 3 * 17 * 17);
    new Rng(10).fillUniform(obs, 0, 1);
    for (let k = 0; k < 17 * 17; k++) obs[k] = obs[3 * 17 * 17 + k] = 0; // agent channel of both copies
    obs[4 * 17 + 8] = 1; // copy 0: agent at (4, 8) → (2, 4) → (1, 2)
    obs[3 * 17 * 17 + 5 * 17 + 0] = 1; // copy 1: agent at (5, 0) → rows 2 and 3 → (1, 0) and (1, 1)… halves
    const { cache } = policy.runWithCache(tensor(obs, [2, 3, 17, 17]));
    const last = cache.get("trunk.stages.1.block.hook_resid_out")!; // [2, 6, 5, 5], before the trunk's ReLU
    const dense = cache.get("trunk.hook_dense_out")!; // relu(dense(readout))
    const at = (b: number, c: number, y: number, x: number): number => Math.max(0, last.data[((b * 6 + c) * 5 + y) * 5 + x]!);
    // copy 1's row 5 → rows 2 and 3 (½ each) → row 1 (from 2: ½; from 3: ¼ to 1 and ¼ to 2); column 0 stays 0
    const readout = [Array.from({ length: 6 }, (_, c) => at(0, c, 1, 2)), Array.from({ length: 6 }, (_, c) => 0.75 * at(1, c, 1, 0) + 0.25 * at(1, c, 2, 0))];
    const { weight, bias } = (policy as unknown as { trunk: { dense: { weight: Tensor; bias: Tensor } } }).trunk.dense;
    const expected = linear(tensor(new Float32Array(readout.flat()), [2, 6]), weight, bias);
    for (let i = 0; i < 16; i++) expect(dense.data[i]).toBeCloseTo(Math.max(0, expected.data[i]!), 4);
    expect(() => createPolicy({ kind: "cnn", obsShape: [3, 17, 17], numActions: 4, options: { pool: "agent" } }, new Rng(9))).toThrow(/needs the environment's agent channel/);
    expect(() => createPolicy({ kind: "cnn", obsShape: [3, 17, 17], numActions: 4, env, options: { pool: "mean" } }, new Rng(9))).toThrow(/"flatten", "max", "agent"/);
  });

  it("rejects an unknown model kind, listing the valid ones", () => {
    expect(() => createPolicy({ kind: "transformer", ...spec }, new Rng(1))).toThrow(/unknown model "transformer"/);
  });
});
