// The stencil kernel of gated value iteration on free grids (core/kernels/gated_grid.ts, WebAssembly SIMD and the
// js loops) against the successor-table kernel it replaces there: Q at the agent, V_K and the gradients of R, C and
// the passability bit for bit on random grids, gates (exact 0 and 1 among them), batches and K; finite differences;
// and the planner with learned transitions takes it.
import { afterEach, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor, tensor } from "../../src/core/tensor.js";
import { kernels, setBackend } from "../../src/core/kernels/index.js";
import { gridStride, jsGatedGrid } from "../../src/core/kernels/gated_grid.js";
import type { BackendName } from "../../src/core/kernels/types.js";
import { mul, sub } from "../../src/core/ops/elementwise.js";
import { VecEnv } from "../../src/envs/engine.js";
import { mazeCheese } from "../../src/envs/maze-cheese.js";
import { planQGated } from "../../src/nn/gated_value_iteration.js";
import "../../src/nn/models/planner.js";
import type { PlannerActorCritic } from "../../src/nn/models/planner.js";
import { createPolicy } from "../../src/nn/models/policy.js";
import { GRID_MOVES, type SuccessorTable, gridSuccessors } from "../../src/nn/value_iteration.js";
import { gradcheck } from "../core/gradcheck.js";

/** The free H×W grid's table, with or without the flag that sends it to the stencil. */
function freeGrid(B: number, H: number, W: number, stencil: boolean): SuccessorTable {
  const table: SuccessorTable = { next: gridSuccessors(new Uint8Array(B * H * W), B, H, W), batch: B, states: H * W, moves: GRID_MOVES.length };
  return stencil ? { ...table, grid: { height: H, width: W } } : table;
}

/**
 * Random problems: rewards in [−1, 1), continuations in [0, 0.99), gates in [0, 1] with a fifth exactly 0 or 1; `tied`:
 * rewards 0 or 1 and continuations 0 or 0.5, so that many moves tie (the first wins) and gradients meet and cancel.
 */
function problems(rng: Rng, B: number, S: number, tied = false): { R: Float32Array; C: Float32Array; G: Float32Array; at: Int32Array } {
  const R = new Float32Array(B * S).map(() => (tied ? rng.int(2) : rng.uniform(-1, 1)));
  const C = new Float32Array(B * S).map(() => (tied ? rng.int(2) / 2 : rng.uniform(0, 0.99)));
  const G = new Float32Array(B * S).map(() => {
    const u = rng.uniform(0, 1);
    return u < 0.1 ? 0 : u < 0.2 ? 1 : rng.uniform(0, 1);
  });
  const at = Int32Array.from({ length: B }, () => rng.int(S));
  return { R, C, G, at };
}

/** Q, V_K and the three gradients (upstream gradient w on Q) of one kernel. */
function run(table: SuccessorTable, p: ReturnType<typeof problems>, K: number, w: Float32Array): Float32Array[] {
  const [r, c, g] = [p.R, p.C, p.G].map((d) => tensor(d.slice(), [table.batch, table.states]).requireGrad()) as [Tensor, Tensor, Tensor];
  const { q, values } = planQGated(table, r, c, g, p.at, { iterations: K, backup: "max" });
  q.backward(w);
  return [q.data, values, r.grad!.data, c.grad!.data, g.grad!.data].map((a) => Float32Array.from(a));
}

/** Bit patterns, so that −0 ≠ +0 and NaNs compare by payload. */
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const previous = kernels().name;
afterEach(() => {
  setBackend(previous);
});

describe("gated value iteration on free grids (stencil kernel)", () => {
  for (const backend of ["wasm", "js", "blas"] as BackendName[]) {
    it(`${backend}: equals the successor-table kernel bit for bit (Q, V_K, gradients of R, C, passability)`, () => {
      setBackend(backend);
      const rng = new Rng(7, `gated-grid-${backend}`);
      const shapes: [number, number, number, number][] = [
        [1, 1, 1, 1], [2, 1, 5, 3], [3, 5, 1, 4], [2, 2, 2, 2], [4, 4, 7, 9], [3, 7, 4, 1], [2, 19, 19, 40], [5, 3, 3, 12], [2, 6, 9, 30],
      ];
      for (const [B, H, W, K, tied] of shapes.flatMap((x) => [[...x, false], [...x, true]] as const)) {
        const S = H * W;
        const p = problems(rng, B, S, tied);
        const w = new Float32Array(B * 5).map(() => rng.uniform(-1, 1));
        const reference = run(freeGrid(B, H, W, false), p, K, w);
        const stencil = run(freeGrid(B, H, W, true), p, K, w);
        ["Q", "V_K", "dR", "dC", "dG"].forEach((name, i) => {
          expect(bits(stencil[i]!), `${backend} ${B}×${H}×${W} K=${K}${tied ? " tied" : ""}: ${name}`).toEqual(bits(reference[i]!));
        });
        // without a backward pass (no grad): the same Q and V_K
        const noGradQ = planQGated(freeGrid(B, H, W, true), tensor(p.R, [B, S]), tensor(p.C, [B, S]), tensor(p.G, [B, S]), p.at, { iterations: K, backup: "max" });
        expect(bits(noGradQ.q.data as Float32Array)).toEqual(bits(reference[0]!));
        expect(bits(noGradQ.values)).toEqual(bits(reference[1]!));
      }
    });
  }

  it("the wasm kernel's values and winning moves equal the js loops' in the padded layout (interior cells)", () => {
    const wasm = setBackend("wasm");
    const rng = new Rng(3, "gated-grid-layout");
    const [B, H, W, K] = [3, 6, 11, 9];
    const S = H * W;
    const PS = gridStride(H, W);
    const p = problems(rng, B, S);
    const out = (passes: typeof jsGatedGrid): [Float32Array, Float32Array, Uint8Array] => {
      const qAt = new Float32Array(B * 5);
      const values = new Float32Array(B * K * PS);
      const args = new Float32Array((B * K * PS + 3) >> 2);
      passes.forward(p.G, p.R, p.C, p.at, qAt, values, args, B, H, W, K);
      return [qAt, values, new Uint8Array(args.buffer)];
    };
    const [jq, jv, ja] = out(jsGatedGrid);
    const [wq, wv, wa] = out(wasm.gatedGrid);
    expect(bits(wq)).toEqual(bits(jq));
    const interior: number[] = [];
    for (let bk = 0; bk < B * K; bk++) for (let y = 1; y <= H; y++) for (let x = 1; x <= W; x++) interior.push(bk * PS + y * (W + 2) + x);
    expect(interior.map((i) => wv[i])).toEqual(interior.map((i) => jv[i]));
    expect(interior.map((i) => wa[i])).toEqual(interior.map((i) => ja[i]));
    expect(new Set(interior.map((i) => ja[i])).size).toBeGreaterThan(2); // the moves differ from cell to cell
  });

  it("passes a finite-difference gradient check (R, C, passability; K = 1 and K = 6)", () => {
    setBackend("wasm");
    const rng = new Rng(11, "gated-grid-fd");
    const [B, H, W] = [2, 3, 4];
    const S = H * W;
    const table = freeGrid(B, H, W, true);
    const at = Int32Array.from([5, 10]);
    const R = tensor(new Float32Array(B * S).map(() => rng.uniform(-1, 1)), [B, S]);
    const C = tensor(new Float32Array(B * S).map(() => rng.uniform(0.3, 0.9)), [B, S]);
    const G = tensor(new Float32Array(B * S).map(() => rng.uniform(0.1, 0.9)), [B, S]);
    for (const iterations of [1, 6]) {
      gradcheck((r, c, g) => planQGated(table, r!, c!, g!, at, { iterations, backup: "max" }).q, [R, C, G], { eps: 1e-3, atol: 1e-3 });
    }
  });

  it("the planner with learned transitions plans with it: its Q at the agent equals the successor-table kernel's on its own maps", () => {
    setBackend("wasm");
    const env = new VecEnv(mazeCheese, { n: 6, distribution: "train" });
    env.reset(4);
    const [Ch, H, W] = env.obsShape as [number, number, number];
    const S = H * W;
    const spec = { kind: "planner", obsShape: [Ch, H, W], numActions: env.numActions, env: { channels: [...env.channels], agentChannel: mazeCheese.agent.channel, actions: [...env.actionNames] }, options: { transitions: "learned", iterations: 40 } };
    const planner = createPolicy(spec, new Rng(5, "gated-grid-planner")) as PlannerActorCritic;
    const names = ["planner.hook_reward_map", "planner.hook_termination", "planner.hook_passability", "planner.hook_q"];
    const { cache } = planner.runWithCache(new Tensor(env.obs.slice(), [6, Ch, H, W]), { names, detach: true });
    const [reward, termination, passability, q] = names.map((n) => cache.get(n)!) as [Tensor, Tensor, Tensor, Tensor];
    const agent = Int32Array.from({ length: 6 }, (_, b) => env.obs.subarray((b * Ch + env.channels.indexOf(mazeCheese.agent.channel)) * S, (b * Ch + env.channels.indexOf(mazeCheese.agent.channel) + 1) * S).indexOf(1));
    const continuation = mul(sub(1, termination), planner.planner.options.gamma).reshape([6, S]);
    const reference = planQGated(freeGrid(6, H, W, false), reward.reshape([6, S]), continuation, passability.reshape([6, S]), agent, { iterations: 40, backup: "max" }).q;
    expect(bits(q.data as Float32Array)).toEqual(bits(reference.data as Float32Array));
  });

  it("a table that says it is a grid of another size is a ShapeError", () => {
    const table = { ...freeGrid(1, 3, 4, false), grid: { height: 4, width: 4 } };
    const x = tensor(new Float32Array(12), [1, 12]);
    expect(() => planQGated(table, x, x, x, Int32Array.from([0]), { iterations: 2, backup: "max" })).toThrow(/grid of 4×4.*12 states/);
  });
});
