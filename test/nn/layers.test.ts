import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointError, ConfigError, ShapeError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, tensor, zeros } from "../../src/core/tensor.js";
import { Attention, LinearSelfAttention } from "../../src/nn/attention.js";
import { Conv2d, GRUCell } from "../../src/nn/layers.js";
import { MLP } from "../../src/nn/mlp.js";
import { loadModule, safetensorsToStateDict, saveModule, stateDictToSafetensors } from "../../src/nn/state.js";
import { loadOptimizer, saveOptimizer } from "../../src/optim/state.js";
import { Adam } from "../../src/optim/adam.js";
import { SGD } from "../../src/optim/sgd.js";
import { gradcheck, randInputs } from "../core/gradcheck.js";

const tmp = mkdtempSync(join(tmpdir(), "mesa-nn-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("attention", () => {
  it("names parameters and hook points as TransformerLens does", () => {
    const a = new Attention({ dModel: 8, nHeads: 2 }, new Rng(0));
    expect(a.namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`)).toEqual([
      "W_Q:2x8x4", "W_K:2x8x4", "W_V:2x8x4", "W_O:2x4x8", "b_Q:2x4", "b_K:2x4", "b_V:2x4", "b_O:8",
    ]);
    expect(a.hookNames()).toEqual(["hook_q", "hook_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z"]);
    const { cache } = a.runWithCache(randInputs([[3, 5, 8]], 1)[0]!);
    expect(cache.get("hook_pattern")!.shape).toEqual([3, 2, 5, 5]);
    expect(cache.get("hook_z")!.shape).toEqual([3, 5, 2, 4]);
  });

  it("causal softmax attention: rows of the pattern sum to 1 and never look ahead", () => {
    const a = new Attention({ dModel: 4, nHeads: 2, mask: "causal" }, new Rng(1));
    const p = a.runWithCache(randInputs([[2, 3, 4]], 2)[0]!).cache.get("hook_pattern")!;
    for (let row = 0; row < p.size / 3; row++) {
      const q = row % 3;
      let s = 0;
      for (let k = 0; k < 3; k++) {
        const v = p.data[row * 3 + k]!;
        s += v;
        if (k > q) expect(v).toBe(0);
      }
      expect(s).toBeCloseTo(1, 6);
    }
  });

  it("has correct gradients through every parameter and the input (softmax and linear)", () => {
    for (const make of [
      () => new Attention({ dModel: 4, nHeads: 2, mask: "causal" }, new Rng(3)),
      () => new LinearSelfAttention({ dModel: 4, nHeads: 1, mask: "exclude-last" }, new Rng(4)),
    ]) {
      const layer = make();
      const names = layer.namedParameters();
      const [x] = randInputs([[2, 3, 4]], 5);
      gradcheck((xx, ...ps) => forwardWithParams(layer, xx!, ps), [x!, ...names.map(([, p]) => p.detach())], { eps: 1e-3 });
    }
  });

  it("linear self-attention with exclude-last lets the query read only the context", () => {
    const a = new LinearSelfAttention({ dModel: 3, nHeads: 1, mask: "exclude-last" }, new Rng(6));
    const x = randInputs([[1, 4, 3]], 7)[0]!;
    const y1 = a.forward(x);
    const x2 = x.clone();
    x2.data[9]! += 5; // change the last token only: no output row attends to it as a key
    const y2 = a.forward(x2);
    const diffRow = (r: number): number => Math.max(...[0, 1, 2].map((j) => Math.abs(y1.data[r * 3 + j]! - y2.data[r * 3 + j]!)));
    expect(diffRow(0)).toBe(0);
    expect(diffRow(3)).toBeGreaterThan(0); // the query's own projection changed
  });

  it("rejects bad sizes and inputs", () => {
    expect(() => new Attention({ dModel: 6, nHeads: 4 }, new Rng(0))).toThrow(ConfigError);
    expect(() => new Attention({ dModel: 4, nHeads: 2 }, new Rng(0)).forward(zeros([2, 3, 5]))).toThrow(ShapeError);
  });
});

/** Attention forward where the parameter tensors are the given leaves (so gradcheck sees their grads). */
function forwardWithParams(layer: Attention | LinearSelfAttention, x: Tensor, ps: Tensor[]): Tensor {
  const keys = Object.keys(layer).filter((k) => /^[Wb]_[QKVO]$/.test(k));
  const saved = keys.map((k) => (layer as unknown as Record<string, unknown>)[k]);
  let i = 0;
  for (const k of keys) if ((layer as unknown as Record<string, unknown>)[k]) (layer as unknown as Record<string, unknown>)[k] = ps[i++];
  try {
    return layer.forward(x);
  } finally {
    keys.forEach((k, j) => ((layer as unknown as Record<string, unknown>)[k] = saved[j]));
  }
}

describe("Conv2d and GRUCell", () => {
  it("Conv2d gives [N, out, Ho, Wo] and orthogonal init zeroes the bias", () => {
    const c = new Conv2d(3, 4, 3, new Rng(0), { stride: 2, padding: 1, init: "orthogonal" });
    expect(c.forward(zeros([2, 3, 9, 9])).shape).toEqual([2, 4, 5, 5]);
    expect(Array.from(c.bias!.data)).toEqual([0, 0, 0, 0]);
  });

  it("GRUCell keeps h when the update gate saturates", () => {
    const g = new GRUCell(2, 3, new Rng(1));
    g.biasIh.data.fill(0);
    g.biasIh.data.fill(50, 3, 6); // z ≈ 1
    const h = tensor([[0.1, -0.2, 0.3]]);
    const out = g.forward([tensor([[1, 2]]), h]);
    for (let i = 0; i < 3; i++) expect(out.data[i]).toBeCloseTo(h.data[i]!, 5);
  });
});

describe("state dicts and optimizer state in safetensors", () => {
  it("round-trips a model through a file bit for bit", () => {
    const a = new MLP([3, 5, 2], new Rng(1));
    const path = join(tmp, "mlp.safetensors");
    saveModule(a, path, { note: "test" });
    const b = new MLP([3, 5, 2], new Rng(2));
    expect(loadModule(b, path)).toEqual({ note: "test" });
    for (const [[n, p], [, q]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]!] as const)) {
      expect(Buffer.from(q.data.buffer, q.data.byteOffset, q.data.byteLength).equals(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)), n).toBe(true);
    }
    const bytes = stateDictToSafetensors(a.stateDict());
    expect(Object.keys(safetensorsToStateDict(bytes).tensors)).toEqual(["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]);
    expect(() => loadModule(new MLP([3, 6, 2], new Rng(3)), path)).toThrow(CheckpointError);
  });

  it("saves and restores optimizer state so training resumes identically", () => {
    const train = (resume: boolean): Float32Array => {
      let net = new MLP([2, 4, 1], new Rng(9));
      let opt = new Adam(net.parameters(), { lr: 0.01 });
      const x = tensor([[1, 2], [3, -1]]);
      for (let step = 0; step < 8; step++) {
        if (resume && step === 4) {
          saveModule(net, join(tmp, "net.safetensors"));
          saveOptimizer(opt, join(tmp, "opt.safetensors"));
          net = new MLP([2, 4, 1], new Rng(99));
          opt = new Adam(net.parameters(), { lr: 0.5 });
          loadModule(net, join(tmp, "net.safetensors"));
          loadOptimizer(opt, join(tmp, "opt.safetensors"));
        }
        opt.zeroGrad();
        net.forward(x).square().mean().backward();
        opt.step();
      }
      return Float32Array.from(net.parameters().flatMap((p) => Array.from(p.data)));
    };
    expect(Array.from(train(true))).toEqual(Array.from(train(false)));
    const net = new MLP([2, 4, 1], new Rng(9));
    expect(() => loadOptimizer(new SGD(net.parameters(), { momentum: 0.9 }), join(tmp, "opt.safetensors"))).toThrow(/holds Adam state but the optimizer is SGD/);
  });
});
