// The glass-box planner: value iteration against a hand-solved grid and a float64 reference, its gradients by
// finite differences, a planner whose reward map is set by hand behaving as that map implies, and the model
// kind registered for training and checkpoints.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor, noGrad, tensor } from "../../src/core/tensor.js";
import { VecEnv } from "../../src/envs/engine.js";
import { mazeCheese } from "../../src/envs/maze-cheese.js";
import { monsterShields } from "../../src/envs/monster-shields.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import { PlannerActorCritic, actionMoves, rewardHeadMaps } from "../../src/nn/models/planner.js";
import { conv2d } from "../../src/core/ops/conv.js";
import { add } from "../../src/core/ops/elementwise.js";
import { linear } from "../../src/core/ops/matmul.js";
import { mean } from "../../src/core/ops/reduce.js";
import { concat, slice } from "../../src/core/ops/shape.js";
import { relu } from "../../src/core/ops/unary.js";
import { createPolicy } from "../../src/nn/models/policy.js";
import { buildRun, validateRunConfig } from "../../src/rl/run.js";
import { GRID_MOVES, gridSuccessors, planQ, valueIteration } from "../../src/nn/value_iteration.js";
import { gradcheck, randInputs } from "../core/gradcheck.js";

/** A 3×3 grid: G pays 1 and ends the episode, # is a wall, A is the agent; γ = 0.9. */
function handGrid(): { table: ReturnType<typeof table>; reward: Float32Array; cont: Float32Array; agent: number } {
  const rows = ["..G", ".#.", "A.."];
  const blocked = new Uint8Array(9);
  const reward = new Float32Array(9);
  const cont = new Float32Array(9).fill(0.9);
  let agent = -1;
  rows.forEach((r, y) =>
    [...r].forEach((c, x) => {
      const s = y * 3 + x;
      if (c === "#") blocked[s] = 1;
      if (c === "G") {
        reward[s] = 1;
        cont[s] = 0;
      }
      if (c === "A") agent = s;
    }),
  );
  return { table: table(blocked, 1, 3, 3), reward, cont, agent };
}

function table(blocked: Uint8Array, batch: number, h: number, w: number) {
  return { next: gridSuccessors(blocked, batch, h, w), batch, states: h * w, moves: GRID_MOVES.length };
}

/** Float64 value iteration written the obvious way (Q from scratch each step), as the oracle. */
function referenceQ(next: Int32Array, S: number, M: number, R: Float32Array, C: Float32Array, K: number, at: number, soft: number | null): number[] {
  let V = new Float64Array(S);
  const q = (s: number, m: number, v: Float64Array): number => {
    const t = next[s * M + m]!;
    return R[t]! + C[t]! * v[t]!;
  };
  for (let k = 1; k < K; k++) {
    const nv = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      const qs = Array.from({ length: M }, (_, m) => q(s, m, V));
      const mx = Math.max(...qs);
      nv[s] = soft === null ? mx : mx + soft * Math.log(qs.reduce((a, x) => a + Math.exp((x - mx) / soft), 0));
    }
    V = nv;
  }
  return Array.from({ length: M }, (_, m) => q(at, m, V));
}

describe("value iteration", () => {
  it("matches the hand-solved 3×3 grid (and plans nothing beyond K steps)", () => {
    const { table: t, reward, cont, agent } = handGrid();
    const run = (K: number): number[] =>
      Array.from(planQ(t, tensor(reward, [1, 9]), tensor(cont, [1, 9]), Int32Array.of(agent), { iterations: K, backup: "max" }).q.data);
    // from A (bottom left) the goal is 4 steps away either way round the wall: up and right are worth 0.9³
    // after 4 backups; staying (and the blocked moves down and left, which stay) is worth 0.9⁴ but needs a 5th
    const q4 = run(4);
    [0, 0.9 ** 3, 0, 0, 0.9 ** 3].forEach((e, m) => expect(q4[m]).toBeCloseTo(e, 6));
    const q = run(5);
    [0.9 ** 4, 0.9 ** 3, 0.9 ** 4, 0.9 ** 4, 0.9 ** 3].forEach((e, m) => expect(q[m]).toBeCloseTo(e, 6));
    expect(run(3)).toEqual([0, 0, 0, 0, 0]); // with 3 backups the goal's value has not reached A yet
    expect(run(30)).toEqual(q); // terminal goal: more backups change nothing
    const V = valueIteration(t, reward, cont, { iterations: 30, backup: "max" });
    // V(s) = 0.9^(distance − 1) on open cells; the goal's own value is entering it again (1)
    const dist = [2, 1, 0, 3, -1, 1, 4, 3, 2];
    dist.forEach((d, s) => {
      if (d > 0) expect(V[s]).toBeCloseTo(0.9 ** (d - 1), 6);
    });
    expect(V[2]).toBeCloseTo(1, 6);
  });

  it("agrees with a float64 reference on random grids, max and soft backups", () => {
    const rng = new Rng(3, "vi-reference");
    for (const backup of ["max", "soft"] as const) {
      const B = 3;
      const H = 4;
      const W = 5;
      const S = H * W;
      const blocked = new Uint8Array(B * S).map(() => (rng.float() < 0.25 ? 1 : 0));
      const t = table(blocked, B, H, W);
      const R = new Float32Array(B * S).map(() => rng.uniform(-1, 1));
      const C = new Float32Array(B * S).map(() => rng.uniform(0, 0.95));
      const at = Int32Array.from({ length: B }, () => rng.int(S));
      const K = 7;
      const { q } = planQ(t, tensor(R, [B, S]), tensor(C, [B, S]), at, { iterations: K, backup, temperature: 0.3 });
      for (let b = 0; b < B; b++) {
        const ref = referenceQ(t.next.subarray(b * S * 5), S, 5, R.subarray(b * S), C.subarray(b * S), K, at[b]!, backup === "soft" ? 0.3 : null);
        ref.forEach((v, m) => expect(q.data[b * 5 + m]).toBeCloseTo(v, 4));
      }
    }
  });

  it("passes finite-difference gradient checks for reward and continuation (max and soft)", () => {
    const rng = new Rng(5, "vi-grad");
    const B = 2;
    const H = 3;
    const W = 4;
    const S = H * W;
    const blocked = new Uint8Array(B * S);
    blocked[5] = 1;
    blocked[S + 6] = 1;
    const t = table(blocked, B, H, W);
    const at = Int32Array.of(8, 1);
    const R = tensor(new Float32Array(B * S).map(() => rng.uniform(-1, 1)), [B, S]);
    const C = tensor(new Float32Array(B * S).map(() => rng.uniform(0.3, 0.9)), [B, S]);
    gradcheck((r, c) => planQ(t, r!, c!, at, { iterations: 6, backup: "soft", temperature: 0.5 }).q, [R, C]);
    // hard max: a small step keeps every argmax where it is (random values have no near-ties at this scale)
    gradcheck((r, c) => planQ(t, r!, c!, at, { iterations: 6, backup: "max" }).q, [R, C], { eps: 1e-3, atol: 1e-3 });
    // an env's own moves: 4 per state (the unrolled backup, coin-run's case) and 3 (the general one), random successors
    for (const M of [4, 3]) {
      const next = Int32Array.from({ length: B * S * M }, () => rng.int(S));
      const own = { next, batch: B, states: S, moves: M };
      gradcheck((r, c) => planQ(own, r!, c!, at, { iterations: 6, backup: "max" }).q, [R, C], { eps: 1e-3, atol: 1e-3 });
      gradcheck((r, c) => planQ(own, r!, c!, at, { iterations: 6, backup: "soft", temperature: 0.5 }).q, [R, C]);
    }
  });

  it("skips absorbing states (walls) in hard-max backups without changing a bit of values, Q or gradients", () => {
    // the full sweep the kernel did before it listed the moving states: every state in order, float32 E, strict >
    const fullSweep = (next: Int32Array, B: number, S: number, M: number, R: Float32Array, C: Float32Array, K: number, at: Int32Array, g: Float32Array) => {
      const V = new Float32Array(B * K * S);
      const arg = new Uint8Array(B * K * S);
      const q = new Float32Array(B * M);
      const dR = new Float32Array(B * S);
      const dC = new Float32Array(B * S);
      for (let b = 0; b < B; b++) {
        let e = R.slice(b * S, (b + 1) * S);
        for (let k = 1; k <= K; k++) {
          const eOut = new Float32Array(S);
          for (let s = 0; s < S; s++) {
            let v = -Infinity;
            for (let m = 0; m < M; m++) {
              const x = e[next[(b * S + s) * M + m]!]!;
              if (x > v) { v = x; arg[(b * K + k - 1) * S + s] = m; }
            }
            V[(b * K + k - 1) * S + s] = v;
            eOut[s] = R[b * S + s]! + C[b * S + s]! * v;
          }
          if (k < K) e = eOut;
        }
        for (let m = 0; m < M; m++) q[b * M + m] = e[next[(b * S + at[b]!) * M + m]!]!;
        let dE = new Float32Array(S);
        for (let m = 0; m < M; m++) dE[next[(b * S + at[b]!) * M + m]!]! += g[b * M + m]!;
        for (let k = K - 1; k >= 1; k--) {
          const dPrev = new Float32Array(S);
          for (let s = 0; s < S; s++) {
            const d = dE[s]!;
            if (d === 0) continue;
            const o = (b * K + k - 1) * S + s;
            dR[b * S + s]! += d;
            dC[b * S + s]! += d * V[o]!;
            const dv = d * C[b * S + s]!;
            if (dv !== 0) dPrev[next[(b * S + s) * M + arg[o]!]!]! += dv;
          }
          dE = dPrev;
        }
        for (let s = 0; s < S; s++) dR[b * S + s]! += dE[s]!;
      }
      return { V, q, dR, dC };
    };
    const rng = new Rng(11, "vi-absorbing");
    const maze = new VecEnv(mazeCheese, { n: 3 });
    maze.reset(4);
    const mazeObs = maze.obs;
    const [, Hm, Wm] = maze.obsShape as [number, number, number];
    const Sm = Hm * Wm;
    const wall = maze.channels.indexOf("wall");
    const blocked = Uint8Array.from({ length: 3 * Sm }, (_, i) => (mazeObs[(Math.floor(i / Sm) * 3 + wall) * Sm + (i % Sm)]! > 0.5 ? 1 : 0));
    const agentAt = Int32Array.from({ length: 3 }, (_, b) => {
      const a = maze.channels.indexOf("agent");
      return mazeObs.subarray((b * 3 + a) * Sm, (b * 3 + a + 1) * Sm).indexOf(1);
    });
    const cases = [{ next: gridSuccessors(blocked, 3, Hm, Wm), B: 3, S: Sm, M: 5, at: agentAt }];
    // an env's own moves (4 and 3 per state) with some absorbing states, one problem's agent on one of them
    for (const M of [4, 3]) {
      const S = 30;
      const next = Int32Array.from({ length: 2 * S * M }, (_, i) => rng.int(S));
      for (let b = 0; b < 2; b++) for (let s = 0; s < S; s += 3) for (let m = 0; m < M; m++) next[(b * S + s) * M + m] = s;
      cases.push({ next, B: 2, S, M, at: Int32Array.of(3, 4) });
    }
    for (const { next, B, S, M, at } of cases) {
      const R = new Float32Array(B * S).map(() => rng.uniform(-1, 1));
      const C = new Float32Array(B * S).map(() => rng.uniform(0, 0.99));
      const g = new Float32Array(B * M).map(() => rng.uniform(-1, 1));
      const K = 40;
      const ref = fullSweep(next, B, S, M, R, C, K, at, g);
      const r = tensor(R, [B, S]).requireGrad();
      const c = tensor(C, [B, S]).requireGrad();
      const { q, values } = planQ({ next, batch: B, states: S, moves: M }, r, c, at, { iterations: K, backup: "max" });
      expect(Array.from(q.data)).toEqual(Array.from(ref.q));
      expect(Array.from(values)).toEqual(Array.from(Array.from({ length: B }, (_, b) => Array.from(ref.V.subarray((b * K + K - 1) * S, (b * K + K) * S))).flat()));
      // without a tape only V_K is kept: the same numbers
      const plain = noGrad(() => planQ({ next, batch: B, states: S, moves: M }, tensor(R, [B, S]), tensor(C, [B, S]), at, { iterations: K, backup: "max" }));
      expect(Array.from(plain.q.data)).toEqual(Array.from(q.data));
      expect(Array.from(plain.values)).toEqual(Array.from(values));
      expect(Array.from(valueIteration({ next, batch: B, states: S, moves: M }, R, C, { iterations: K, backup: "max" }))).toEqual(Array.from(values));
      // for callers that read only Q: the closed-off absorbing states' values are not worked out (NaN), nothing else changes
      const qOnly = noGrad(() => planQ({ next, batch: B, states: S, moves: M }, tensor(R, [B, S]), tensor(C, [B, S]), at, { iterations: K, backup: "max", absorbingValues: false }));
      expect(Array.from(qOnly.q.data)).toEqual(Array.from(q.data));
      Array.from(qOnly.values).forEach((v, i) => (Number.isNaN(v) ? expect(next[i * M]).toBe(i % S) : expect(v).toBe(values[i])));
      q.backward(new Tensor(g, [B, M]));
      expect(Array.from(r.grad!.data)).toEqual(Array.from(ref.dR));
      expect(Array.from(c.grad!.data)).toEqual(Array.from(ref.dC));
      // for callers that read only Q at the agent: each backup visits only the states the agent can reach in the
      // steps left — the same Q and gradients, bit for bit, at short and long plans; V_K beyond the agent is NaN
      for (const k of [1, 3, 8, K]) {
        const table = { next, batch: B, states: S, moves: M };
        const [r1, c1, r2, c2] = [R, C, R, C].map((v) => tensor(v, [B, S]).requireGrad()) as [Tensor, Tensor, Tensor, Tensor];
        const all = planQ(table, r1, c1, at, { iterations: k, backup: "max" });
        const cone = planQ(table, r2, c2, at, { iterations: k, backup: "max", absorbingValues: false, agentOnly: true });
        expect(Array.from(cone.q.data)).toEqual(Array.from(all.q.data));
        all.q.backward(new Tensor(g, [B, M]));
        cone.q.backward(new Tensor(g, [B, M]));
        expect(Array.from(r2.grad!.data)).toEqual(Array.from(r1.grad!.data));
        expect(Array.from(c2.grad!.data)).toEqual(Array.from(c1.grad!.data));
        Array.from(cone.values).forEach((v, i) => (Number.isNaN(v) ? expect(i).not.toBe(Math.floor(i / S) * S + at[Math.floor(i / S)]!) : expect(v).toBe(all.values[i])));
        if (k === 1) expect(cone.values.filter((v) => Number.isNaN(v)).length).toBeGreaterThan(0);
        const noTape = noGrad(() => planQ(table, tensor(R, [B, S]), tensor(C, [B, S]), at, { iterations: k, backup: "max", absorbingValues: false, agentOnly: true }));
        expect(Array.from(noTape.q.data)).toEqual(Array.from(all.q.data));
      }
    }
  });

  it("rejects bad settings with a clear message", () => {
    const { table: t, reward, cont } = handGrid();
    expect(() => valueIteration(t, reward, cont, { iterations: 0, backup: "max" })).toThrow(/iterations must be a positive integer/);
    expect(() => valueIteration(t, reward.subarray(1), cont, { iterations: 3, backup: "max" })).toThrow(/reward has 8 values, expected 1·9/);
    expect(() => planQ(t, tensor(reward, [1, 9]), tensor(cont, [1, 9]), Int32Array.of(9), { iterations: 3, backup: "max" })).toThrow(/outside \[0, 9\)/);
  });
});

function mazePlanner(env: VecEnv, seed = 1, options: Record<string, unknown> = {}): PlannerActorCritic {
  return createPolicy(
    {
      kind: "planner",
      obsShape: [...env.obsShape],
      numActions: env.numActions,
      env: { channels: [...env.channels], agentChannel: env.def.agent.channel, actions: [...env.actionNames] },
      options,
    },
    new Rng(seed, "init"),
  ) as PlannerActorCritic;
}

describe("planner policy", () => {
  it("with a hand-set reward map, goes where the map says: the cheese, or the top-right corner", () => {
    const n = 16;
    for (const target of ["cheese", "corner"] as const) {
      const env = new VecEnv(mazeCheese, { n, distribution: "deploy", params: { minCells: 3, maxCells: 4 } });
      env.reset(11);
      const planner = mazePlanner(env, 1, { iterations: 40 });
      planner.logInverseTemperature.data[0] = Math.log(100);
      const cheese = env.channels.indexOf("cheese");
      const hw = env.height * env.width;
      // reward 1 at the target cell (cheese: where the cheese channel is lit; corner: the maze's top-right cell), which ends the plan
      const state = env.state as { cornerY: Int32Array; cornerX: Int32Array };
      const targetMap = (obs: Tensor): Float32Array => {
        const B = obs.shape[0]!;
        const m = new Float32Array(B * hw);
        for (let b = 0; b < B; b++) {
          if (target === "cheese") for (let s = 0; s < hw; s++) m[b * hw + s] = obs.data[(b * env.numChannels + cheese) * hw + s]!;
          else m[b * hw + state.cornerY[b]! * env.width + state.cornerX[b]!] = 1;
        }
        return m;
      };
      const scripted = scriptedPolicy(env, target === "cheese" ? "intended" : "proxy");
      const expected = new Int32Array(n);
      const actions = new Int32Array(n);
      let compared = 0;
      for (let step = 0; step < 30; step++) {
        const obs = new Tensor(env.obs.slice(), [n, ...env.obsShape]);
        const goal = targetMap(obs);
        const out = noGrad(() =>
          planner.runWithHooks(obs, {
            "planner.hook_reward_map": (r) => new Tensor(goal.slice(), r.shape),
            "planner.hook_termination": (t) => new Tensor(goal.slice(), t.shape),
          }),
        );
        for (let b = 0; b < n; b++) {
          let best = 0;
          for (let a = 1; a < env.numActions; a++) if (out.logits.data[b * env.numActions + a]! > out.logits.data[b * env.numActions + best]!) best = a;
          actions[b] = best;
        }
        scripted.act(env, expected);
        // mazes are trees: the shortest path, hence the first move toward the target, is unique
        for (let b = 0; b < n; b++) {
          if (env.agentY[b] === state.cornerY[b] && env.agentX[b] === state.cornerX[b] && target === "corner") continue; // proxy policy is done there
          expect(actions[b], `${target}: copy ${b}, step ${step}`).toBe(expected[b]);
          compared++;
        }
        env.step(actions);
      }
      expect(compared).toBeGreaterThan(n * 5);
    }
  });

  it("starts near-uniform (exploration) and reads walls and the agent from the observation", () => {
    const env = new VecEnv(mazeCheese, { n: 8, distribution: "train" });
    env.reset(2);
    const planner = mazePlanner(env);
    const out = noGrad(() => planner.forward(new Tensor(env.obs.slice(), [8, ...env.obsShape])));
    const A = env.numActions;
    for (let b = 0; b < 8; b++) {
      const row = Array.from(out.logits.data.subarray(b * A, (b + 1) * A));
      const z = row.reduce((s, x) => s + Math.exp(x), 0);
      for (const x of row) expect(Math.exp(x) / z).toBeGreaterThan(0.2); // every action keeps ≥ 20% (uniform: 25%)
    }
    expect(planner.hookNames()).toEqual(["planner.hook_reward_map", "planner.hook_termination", "planner.hook_values", "planner.hook_q"]);
    const { reward, termination, values } = planner.mesaObjective(new Tensor(env.obs.slice(), [8, ...env.obsShape]));
    expect(reward.shape).toEqual([8, env.height, env.width]);
    expect(values.data.every((v) => Number.isFinite(v))).toBe(true); // read through the hook: walls' values worked out too
    expect(termination.data.every((p) => p > 0.05 && p < 0.3)).toBe(true); // initial termination ≈ sigmoid(−2)
  });

  it("maps actions by name and explains what it cannot plan for", () => {
    expect(Array.from(actionMoves(["noop", "left", "right", "jump"]))).toEqual([0, 3, 4, 1]);
    expect(() => actionMoves(["up", "fire"])).toThrow(/no grid move for action "fire"/);
    const env = new VecEnv(mazeCheese, { n: 1 });
    expect(() => mazePlanner(env, 1, { blocking: ["lava"] })).toThrow(/blocking channel "lava" is not an observation channel/);
    // an env without a wall channel (an open room) gets a planner with nothing blocking, no setting needed
    const room = new VecEnv(monsterShields, { n: 2 });
    room.reset(1);
    const open = mazePlanner(room, 1);
    expect(open.mesaObjective(new Tensor(room.obs.slice(), [2, ...room.obsShape])).reward.shape).toEqual([2, room.height, room.width]);
    expect(() => mazePlanner(env, 1, { gama: 0.9 })).toThrow(/gama/);
    expect(() => createPolicy({ kind: "planner", obsShape: [...env.obsShape], numActions: 4 }, new Rng(1))).toThrow(/needs the environment's channel and action names/);
  });

  it("takes K and γ from the env's planning hints (recorded in its spec), else 2·(H + W) and 0.95; settings win", () => {
    const built = (env: string, modelParams: Record<string, unknown> = {}): PlannerActorCritic => {
      const { config } = validateRunConfig({ env, model: "planner", modelParams, ppo: { totalTimesteps: 64, numEnvs: 2, numSteps: 32 } }, { source: "test" });
      return buildRun(config).policy as PlannerActorCritic;
    };
    const maze = built("maze-cheese");
    expect([maze.planner.options.iterations, maze.planner.options.gamma]).toEqual([160, 0.99]); // 2·9² − 2, not 2·(17 + 17) = 68
    expect(maze.spec.env?.planning).toEqual({ horizon: 160, discount: 0.99 });
    // rebuilt from its spec (as a checkpoint is loaded), it plans the same way
    const again = createPolicy(maze.spec, new Rng(1, "init")) as PlannerActorCritic;
    expect([again.planner.options.iterations, again.planner.options.gamma]).toEqual([160, 0.99]);
    const given = built("maze-cheese", { iterations: 136, gamma: 0.9 });
    expect([given.planner.options.iterations, given.planner.options.gamma]).toEqual([136, 0.9]);
    expect(given.spec.options).toEqual({ iterations: 136, gamma: 0.9 });
    // environments without hints keep the grid's defaults
    const coin = built("coin-run");
    expect(coin.spec.env?.planning).toBeUndefined();
    const [, h, w] = coin.obsShape as [number, number, number];
    expect([coin.planner.options.iterations, coin.planner.options.gamma]).toEqual([2 * (h + w), 0.95]);
    // a spec written before the hints (none recorded) keeps the K and γ it was trained with
    const env = new VecEnv(mazeCheese, { n: 1 });
    const old = mazePlanner(env);
    expect([old.planner.options.iterations, old.planner.options.gamma]).toEqual([2 * (env.height + env.width), 0.95]);
  });

  it("its reward head equals the plain conv over observation + coordinate channels, values and gradients", () => {
    const env = new VecEnv(mazeCheese, { n: 6, distribution: "train" });
    env.reset(4);
    const planner = mazePlanner(env, 2);
    const head = planner.rewardHead;
    const obs = new Tensor(env.obs.slice(), [6, ...env.obsShape]);
    const [, C, H, W] = obs.shape as [number, number, number, number];
    // the oracle: conv over the concatenated channels (the coordinate channels as the head documents them)
    const coords = new Float32Array(6 * 3 * H * W);
    for (let b = 0; b < 6; b++) {
      for (let s = 0; s < H * W; s++) {
        coords[(b * 3) * H * W + s] = 1;
        coords[(b * 3 + 1) * H * W + s] = Math.floor(s / W) / (H - 1);
        coords[(b * 3 + 2) * H * W + s] = (s % W) / (W - 1);
      }
    }
    const oracle = (): Tensor => {
      const hidden = head.context.weight.shape[0]!;
      const ctx = linear(mean(obs, [2, 3]), head.context.weight).reshape([6, hidden, 1, 1]);
      const h = add(conv2d(concat([obs, new Tensor(coords, [6, 3, H, W])], 1), head.conv.weight, head.conv.bias, { padding: 1 }), ctx);
      return conv2d(relu(h), head.out.weight, head.out.bias);
    };
    const gradsOf = (f: () => Tensor): { out: Float32Array; grads: Float32Array[] } => {
      for (const p of head.parameters()) p.grad = null;
      const out = f();
      out.mul(tensor(Array.from({ length: out.size }, (_, i) => Math.sin(i)), out.shape)).sum().backward();
      return { out: out.data.slice(), grads: head.parameters().map((p) => p.grad!.data.slice()) };
    };
    expect(C).toBe(env.channels.length);
    const want = gradsOf(oracle);
    for (let call = 0; call < 2; call++) { // the second call reuses the recycled buffers
      const got = gradsOf(() => head.forward(obs));
      for (let i = 0; i < want.out.length; i++) expect(got.out[i]).toBeCloseTo(want.out[i]!, 5);
      want.grads.forEach((g, k) => g.forEach((x, i) => expect(got.grads[k]![i]).toBeCloseTo(x, 4)));
    }
  });

  it("its fused head pass (context, coordinate share, ReLU, 1×1 conv) equals a float64 oracle and passes gradient checks", () => {
    const [B, Ch, H, W, O] = [3, 4, 2, 3, 3];
    const S = H * W;
    const [y, ctx, cells, weight, bias] = randInputs([[B, Ch, H, W], [B, Ch], [Ch, S], [O, Ch, 1, 1], [O]], 21);
    // keep every pre-activation away from the ReLU's kink, where finite differences are meaningless
    for (let i = 0; i < y!.size; i++) {
      const b = Math.floor(i / (Ch * S)), c = Math.floor(i / S) % Ch, s = i % S;
      const z = y!.data[i]! + ctx!.data[b * Ch + c]! + cells!.data[c * S + s]!;
      if (Math.abs(z) < 0.1) y!.data[i]! += 0.2;
    }
    const maps = rewardHeadMaps(y!, ctx!, cells!, weight!, bias!);
    expect(maps.shape).toEqual([B, O, H, W]);
    let rectified = 0;
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < O; o++) {
        for (let s = 0; s < S; s++) {
          let want = bias!.data[o]!;
          for (let c = 0; c < Ch; c++) {
            const z = y!.data[(b * Ch + c) * S + s]! + ctx!.data[b * Ch + c]! + cells!.data[c * S + s]!;
            if (z <= 0) rectified++;
            want += weight!.data[o * Ch + c]! * Math.max(0, z);
          }
          expect(maps.data[(b * O + o) * S + s]).toBeCloseTo(want, 5);
        }
      }
    }
    expect(rectified).toBeGreaterThan(0);
    gradcheck((a, x, m, w, b) => rewardHeadMaps(a!, x!, m!, w!, b!), [y!, ctx!, cells!, weight!, bias!]);
    expect(() => rewardHeadMaps(y!, ctx!, ctx!, weight!, bias!)).toThrow(/must be \[B, C, H, W\], \[B, C\], \[C, H·W\], \[O, C, 1, 1\] and \[O\]/);
  });

  it("backpropagates from logits and value into every parameter", () => {
    const env = new VecEnv(mazeCheese, { n: 4, distribution: "train" });
    env.reset(3);
    const planner = mazePlanner(env);
    const out = planner.forward(new Tensor(env.obs.slice(), [4, ...env.obsShape]));
    out.logits.sum().add(out.value.sum()).backward();
    for (const [name, p] of planner.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect(p.grad!.data.some((g) => g !== 0), name).toBe(true);
    }
  });
});
