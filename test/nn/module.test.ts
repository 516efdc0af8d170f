import { describe, expect, it } from "vitest";
import { HookError, CheckpointError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { tensor, zeros } from "../../src/core/tensor.js";
import { Linear } from "../../src/nn/linear.js";
import { MLP } from "../../src/nn/mlp.js";
import { orthogonalInit } from "../../src/nn/init.js";

describe("Module", () => {
  it("names parameters and hook points from the module tree (TransformerLens style)", () => {
    const mlp = new MLP([3, 4, 4, 2], new Rng(0));
    expect(mlp.namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`)).toEqual([
      "layers.0.weight:4x3", "layers.0.bias:4", "layers.1.weight:4x4", "layers.1.bias:4", "layers.2.weight:2x4", "layers.2.bias:2",
    ]);
    expect(mlp.hookNames()).toEqual(["hook_pre.0", "hook_pre.1", "hook_post.0", "hook_post.1"]);
    expect(mlp.numParameters()).toBe(4 * 3 + 4 + 16 + 4 + 8 + 2);
  });

  it("runWithCache returns every hooked activation; runWithHooks can replace one; hooks are removed after", () => {
    const mlp = new MLP([3, 4, 2], new Rng(1), { activation: "relu" });
    const x = tensor([[1, -2, 3]]);
    const plain = mlp.forward(x).toArray();
    const { output, cache } = mlp.runWithCache(x);
    expect(output.toArray()).toEqual(plain);
    expect([...cache.keys()]).toEqual(["hook_pre.0", "hook_post.0"]);
    expect(cache.get("hook_post.0")!.toArray()).toEqual(cache.get("hook_pre.0")!.relu().toArray());
    const patched = mlp.runWithHooks(x, { "hook_post.0": (a) => zeros(a.shape) });
    expect(Array.from(patched.data)).toEqual(Array.from(mlp.layers[1]!.bias!.data));
    expect(mlp.forward(x).toArray()).toEqual(plain);
    expect(() => mlp.runWithHooks(x, { "hook_nope": () => undefined })).toThrow(HookError);
    expect(() => mlp.runWithHooks(x, { "hook_pre.0": () => zeros([1]) })).toThrow(/returned shape \[1\] but the activation is \[1, 4\]/);
    expect(mlp.forward(x).toArray()).toEqual(plain); // still clean after a throwing hook
  });

  it("loads a state dict with shape and key checks", () => {
    const a = new MLP([2, 3, 1], new Rng(2));
    const b = new MLP([2, 3, 1], new Rng(3));
    b.loadStateDict(a.stateDict());
    const x = tensor([[0.5, -1]]);
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
    expect(() => new MLP([2, 4, 1], new Rng(4)).loadStateDict(a.stateDict())).toThrow(CheckpointError);
    expect(() => b.loadStateDict({})).toThrow(/missing layers.0.weight/);
  });

  it("orthogonal init gives orthonormal rows (wide) or columns (tall) times the gain", () => {
    for (const [r, c] of [[4, 6], [6, 4], [5, 5]] as const) {
      const w = orthogonalInit(new Float32Array(r * c), new Rng(5), r, c, 2);
      const rowsOrtho = r <= c;
      const n = rowsOrtho ? r : c;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let d = 0;
          for (let t = 0; t < (rowsOrtho ? c : r); t++) d += rowsOrtho ? w[i * c + t]! * w[j * c + t]! : w[t * c + i]! * w[t * c + j]!;
          expect(d).toBeCloseTo(i === j ? 4 : 0, 4);
        }
    }
    const lin = new Linear(8, 4, new Rng(6), { init: "orthogonal", gain: 0.01 });
    expect(Array.from(lin.bias!.data)).toEqual([0, 0, 0, 0]);
  });
});

describe("hooks", () => {
  it("predicate hooks match by name, and every hook comes off after the call", async () => {
    const { Sequential } = await import("../../src/nn/module.js");
    const { Linear } = await import("../../src/nn/linear.js");
    const seq = new Sequential([new MLP([2, 3, 3], new Rng(7)), new Linear(3, 1, new Rng(8))]);
    expect(seq.hookNames()).toEqual(["layers.0.hook_pre.0", "layers.0.hook_post.0"]);
    const x = tensor([[1, 2]]);
    const seen: string[] = [];
    const out = seq.runWithHooks(x, [[(n) => n.endsWith("hook_post.0"), (a, name) => { seen.push(name); return a.mul(0); }]]);
    expect(seen).toEqual(["layers.0.hook_post.0"]);
    // with the hidden layer zeroed, the output is the last two biases pushed through
    const mlp = seq.layers[0] as MLP;
    const expected = seq.layers[1]!.forward(mlp.layers[1]!.bias!.reshape([1, 3]));
    expect(Array.from(out.data)).toEqual(Array.from(expected.data));
    expect(mlp.hookPre[0]!._hooks.length).toBe(0);
    expect(mlp.hookPost[0]!._hooks.length).toBe(0);
  });
});
