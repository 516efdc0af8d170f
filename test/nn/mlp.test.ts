import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, noGrad, tensor } from "../../src/core/tensor.js";
import { MLP } from "../../src/nn/mlp.js";
import { Adam } from "../../src/optim/adam.js";

/** inputs [rows, cols] in [−1, 1) */
function input(rows: number, cols: number, seed: number): Tensor {
  return tensor(new Rng(seed).fillUniform(new Float32Array(rows * cols), -1, 1) as Float32Array, [rows, cols]);
}

// Hidden layers without hooks run as fused linear+activation ops with pooled, recycled output buffers; a hook on
// every hidden layer forces the unfused path (linear, hook, activation, hook), which must give the same numbers.
const READ_ALL: readonly (readonly [(name: string) => boolean, () => void])[] = [[() => true, () => undefined]];

describe("MLP fused hidden layers", () => {
  for (const act of ["tanh", "relu", "sigmoid", "gelu"] as const) {
    it(`${act}: outputs and gradients bit-identical with and without hooks, over several Adam steps`, () => {
      const x = input(33, 7, 1);
      const run = (hooked: boolean): Float32Array[] => {
        const net = new MLP([7, 16, 16, 3], new Rng(4), { activation: act, hooks: act === "tanh" ? "hidden" : "pre-post" });
        const opt = new Adam(net.parameters(), { lr: 1e-2 });
        const seen: Float32Array[] = [];
        for (let step = 0; step < 4; step++) {
          net.zeroGrad();
          const y = hooked ? net.runWithHooks(x, READ_ALL) : net.forward(x);
          seen.push(y.data.slice());
          y.square().mean().backward();
          for (const p of net.parameters()) seen.push(p.grad!.data.slice());
          opt.step();
        }
        // a no-grad forward (buffers released layer by layer) after training gives the same values again
        seen.push(noGrad(() => (hooked ? net.runWithHooks(x, READ_ALL) : net.forward(x))).data.slice());
        return seen;
      };
      const fused = run(false);
      const unfused = run(true);
      expect(fused.length).toBe(unfused.length);
      for (let i = 0; i < fused.length; i++) expect(fused[i]).toEqual(unfused[i]);
    });
  }

  it("outputs of no-grad forwards stay intact while later forwards recycle hidden buffers", () => {
    const net = new MLP([5, 64, 64, 64, 2], new Rng(2), { activateOutput: true });
    const a = noGrad(() => net.forward(input(600, 5, 1)));
    const copy = a.data.slice();
    for (let i = 0; i < 3; i++) {
      noGrad(() => net.forward(input(600, 5, 2 + i)));
      net.forward(input(600, 5, 7)).sum().backward();
    }
    expect(a.data).toEqual(copy);
  });

  it('hooks: "hidden" names one hook after each activation, hooks: "pre-post" two; anything else is a ConfigError', () => {
    expect(new MLP([3, 4, 4, 2], new Rng(1), { hooks: "hidden" }).hookNames()).toEqual(["hook_hidden_0", "hook_hidden_1"]);
    expect(new MLP([3, 4, 2], new Rng(1), { hooks: "pre-post" }).hookNames()).toEqual(["hook_pre.0", "hook_post.0"]);
    expect(() => new MLP([3, 4, 2], new Rng(1), { hooks: "all" as "hidden" })).toThrow(ConfigError);
  });

  it("the gradient reaches an input that requires grad", () => {
    const x = input(4, 3, 3).requireGrad();
    const net = new MLP([3, 8, 1], new Rng(1));
    net.forward(x).sum().backward();
    const xh = input(4, 3, 3).requireGrad();
    new MLP([3, 8, 1], new Rng(1)).runWithHooks(xh, READ_ALL).sum().backward();
    expect(x.grad!.data).toEqual(xh.grad!.data);
    expect(x.grad!.data.some((v) => v !== 0)).toBe(true);
  });
});
