// Value iteration with a learned transition model (a move enters its cell with the cell's passability, else
// stays): the fused kernel against the same recursion in generic autograd ops on odd shapes, finite differences,
// a hand-set passability map planning exactly as the walls it marks, and the planner's `transitions=learned`
// setting (spec round trip, hook, bad values); its transition loss (labels from the agent's own moves, finite
// differences, the direction it pulls the gates, inside PPO).
import { describe, expect, it } from "vitest";
import type { MesaError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor, noGrad, tensor } from "../../src/core/tensor.js";
import { add, mul, sub } from "../../src/core/ops/elementwise.js";
import { indexSelect } from "../../src/core/ops/indexing.js";
import { logSumExp } from "../../src/core/ops/softmax.js";
import { max } from "../../src/core/ops/reduce.js";
import { VecEnv } from "../../src/envs/engine.js";
import { coinRun } from "../../src/envs/coin-run.js";
import { mazeCheese } from "../../src/envs/maze-cheese.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import { safetensorsToStateDict, stateDictToSafetensors } from "../../src/nn/state.js";
import { planQGated } from "../../src/nn/gated_value_iteration.js";
import { PlannerActorCritic } from "../../src/nn/models/planner.js";
import { createPolicy } from "../../src/nn/models/policy.js";
import { ppoConfig } from "../../src/rl/config.js";
import { type PpoMetrics, trainPPO } from "../../src/rl/ppo.js";
import { GRID_MOVES, type SuccessorTable, gridSuccessors, planQ } from "../../src/nn/value_iteration.js";
import { environments } from "../../src/envs/registry.js";
import { envObjectives, readingLevels, scoreRewardMaps } from "../../src/interp/objective-report.js";
import { gradcheck } from "../core/gradcheck.js";

/** The same recursion in generic autograd ops: Q = E(s) + g(t)·(E(t) − E(s)) gathered by the table, V = backup over moves, E = R + C·V. */
function genericQ(table: SuccessorTable, R: Tensor, C: Tensor, G: Tensor, at: Int32Array, K: number, tau: number | null): Tensor {
  const { batch: B, states: S, moves: M, next } = table;
  const target = Int32Array.from({ length: B * S * M }, (_, i) => Math.floor(i / (S * M)) * S + next[i]!);
  const self = Int32Array.from({ length: B * S * M }, (_, i) => Math.floor(i / M));
  const atTarget = Int32Array.from({ length: B * M }, (_, i) => {
    const b = Math.floor(i / M);
    return b * S + next[(b * S + at[b]!) * M + (i % M)]!;
  });
  const atSelf = Int32Array.from({ length: B * M }, (_, i) => Math.floor(i / M) * S + at[Math.floor(i / M)]!);
  const g = G.reshape([B * S]);
  const gated = (E: Tensor, to: Int32Array, from: Int32Array): Tensor => {
    const e = E.reshape([B * S]);
    const es = indexSelect(e, 0, from);
    return add(es, mul(indexSelect(g, 0, to), sub(indexSelect(e, 0, to), es)));
  };
  let E = R;
  for (let k = 1; k < K; k++) {
    const Q = gated(E, target, self).reshape([B, S, M]);
    const V = tau === null ? max(Q, 2) : mul(logSumExp(mul(Q, 1 / tau), 2), tau); // [B, S]
    E = add(R, mul(C, V));
  }
  return gated(E, atTarget, atSelf).reshape([B, M]);
}

function grid(B: number, H: number, W: number, blocked?: Uint8Array): SuccessorTable {
  return { next: gridSuccessors(blocked ?? new Uint8Array(B * H * W), B, H, W), batch: B, states: H * W, moves: GRID_MOVES.length };
}

describe("gated value iteration", () => {
  it("equals the generic autograd recursion on odd shapes: Q and the gradients of R, C and passability (max and soft)", () => {
    const rng = new Rng(21, "gated-reference");
    // a 3×7 grid's moves (5), and random successor tables of 3 and 4 moves
    const cases: SuccessorTable[] = [grid(3, 3, 7)];
    for (const M of [3, 4]) cases.push({ next: Int32Array.from({ length: 2 * 13 * M }, () => rng.int(13)), batch: 2, states: 13, moves: M });
    for (const table of cases) {
      const { batch: B, states: S, moves: M } = table;
      for (const tau of [null, 0.4]) {
        const R = new Float32Array(B * S).map(() => rng.uniform(-1, 1));
        const C = new Float32Array(B * S).map(() => rng.uniform(0, 0.95));
        const G = new Float32Array(B * S).map(() => rng.uniform(0, 1));
        const at = Int32Array.from({ length: B }, () => rng.int(S));
        const up = new Float32Array(B * M).map(() => rng.uniform(-1, 1));
        const K = 9;
        const leaves = () => [tensor(R.slice(), [B, S]).requireGrad(), tensor(C.slice(), [B, S]).requireGrad(), tensor(G.slice(), [B, S]).requireGrad()] as const;
        const [r1, c1, g1] = leaves();
        const fused = planQGated(table, r1, c1, g1, at, { iterations: K, backup: tau === null ? "max" : "soft", temperature: tau ?? 1 }).q;
        const [r2, c2, g2] = leaves();
        const ref = genericQ(table, r2, c2, g2, at, K, tau);
        Array.from(ref.data).forEach((v, i) => expect(fused.data[i], `${M} moves, τ ${tau}: Q ${i}`).toBeCloseTo(v, 5));
        fused.backward(new Tensor(up.slice(), [B, M]));
        ref.backward(new Tensor(up.slice(), [B, M]));
        for (const [a, b, name] of [[r1, r2, "R"], [c1, c2, "C"], [g1, g2, "passability"]] as const) {
          Array.from(b.grad!.data).forEach((v, i) => expect(a.grad!.data[i], `${M} moves, τ ${tau}: d${name} ${i}`).toBeCloseTo(v, 4));
        }
      }
    }
  });

  it("passes finite-difference gradient checks for reward, continuation and passability", () => {
    const rng = new Rng(5, "gated-grad");
    const table = grid(2, 3, 4);
    const B = 2;
    const S = 12;
    const at = Int32Array.of(5, 10);
    const R = tensor(new Float32Array(B * S).map(() => rng.uniform(-1, 1)), [B, S]);
    const C = tensor(new Float32Array(B * S).map(() => rng.uniform(0.3, 0.9)), [B, S]);
    const G = tensor(new Float32Array(B * S).map(() => rng.uniform(0.1, 0.9)), [B, S]);
    gradcheck((r, c, g) => planQGated(table, r!, c!, g!, at, { iterations: 6, backup: "soft", temperature: 0.5 }).q, [R, C, G]);
    // hard max: a small step keeps every argmax where it is (random values have no near-ties at this scale)
    gradcheck((r, c, g) => planQGated(table, r!, c!, g!, at, { iterations: 6, backup: "max" }).q, [R, C, G], { eps: 1e-3, atol: 1e-3 });
    // K = 1: Q reads the reward map only
    gradcheck((r, c, g) => planQGated(table, r!, c!, g!, at, { iterations: 1, backup: "max" }).q, [R, C, G], { eps: 1e-3, atol: 1e-3 });
  });

  it("with passability 0 on the walls and 1 elsewhere, plans as the walls read from the observation", () => {
    const maze = new VecEnv(mazeCheese, { n: 4, distribution: "deploy" });
    maze.reset(9);
    const [C, H, W] = maze.obsShape as [number, number, number];
    const S = H * W;
    const wall = maze.channels.indexOf("wall");
    const agentChannel = maze.channels.indexOf("agent");
    const blocked = Uint8Array.from({ length: 4 * S }, (_, i) => (maze.obs[(Math.floor(i / S) * C + wall) * S + (i % S)]! > 0.5 ? 1 : 0));
    const at = Int32Array.from({ length: 4 }, (_, b) => maze.obs.subarray((b * C + agentChannel) * S, (b * C + agentChannel + 1) * S).indexOf(1));
    const rng = new Rng(3, "gated-walls");
    const R = new Float32Array(4 * S).map(() => rng.uniform(-0.1, 1));
    const Cont = new Float32Array(4 * S).map(() => rng.uniform(0.5, 0.99));
    const options = { iterations: 60, backup: "max" as const };
    const known = noGrad(() => planQ(grid(4, H, W, blocked), tensor(R, [4, S]), tensor(Cont, [4, S]), at, options)).q;
    const gates = Float32Array.from(blocked, (x) => 1 - x);
    const gated = noGrad(() => planQGated(grid(4, H, W), tensor(R, [4, S]), tensor(Cont, [4, S]), tensor(gates, [4, S]), at, options)).q;
    Array.from(known.data).forEach((v, i) => expect(gated.data[i]).toBeCloseTo(v, 4));
    // and a wall's Q differs once its gate opens (the check can fail)
    const open = noGrad(() => planQGated(grid(4, H, W), tensor(R, [4, S]), tensor(Cont, [4, S]), tensor(new Float32Array(4 * S).fill(1), [4, S]), at, options)).q;
    expect(Array.from(open.data).some((v, i) => Math.abs(v - known.data[i]!) > 1e-3)).toBe(true);
  });

  it("rejects a passability map of the wrong size", () => {
    const t = grid(1, 2, 3);
    expect(() => planQGated(t, tensor(new Float32Array(6), [1, 6]), tensor(new Float32Array(6), [1, 6]), tensor(new Float32Array(5), [1, 5]), Int32Array.of(0), { iterations: 3, backup: "max" })).toThrow(/passability has 5 values, expected 1·6/);
  });
});

describe("transition loss (a transition model learned from the agent's own moves)", () => {
  // a 5×6 grid, walls at (1, 3) and (2, 3); observations [agent, wall, cheese]
  const H = 5;
  const W = 6;
  const walls = [1 * W + 3, 2 * W + 3];
  const obsOf = (agent: number): Float32Array => {
    const o = new Float32Array(3 * H * W);
    o[agent] = 1;
    for (const w of walls) o[H * W + w] = 1;
    return o;
  };
  const cell = (y: number, x: number): number => y * W + x;
  const ACTIONS = ["noop", "up", "down", "left", "right"];
  const act = (name: string): number => ACTIONS.indexOf(name);
  // [agent before, action, agent after, episode ended]: what each step should teach
  const steps: [number, string, number, number][] = [
    [cell(1, 1), "right", cell(1, 2), 0], // entered an open cell: (1, 2) passable
    [cell(1, 2), "right", cell(1, 2), 0], // bumped into the wall (1, 3): not passable
    [cell(1, 2), "right", cell(3, 0), 1], // the episode ended: the next observation is a new level
    [cell(0, 0), "up", cell(0, 0), 0], // off the grid
    [cell(1, 1), "noop", cell(1, 1), 0], // tries to enter no cell
    [cell(1, 1), "down", cell(4, 5), 0], // ended up elsewhere: neither entered nor stayed
    [cell(2, 2), "left", cell(2, 1), 0],
    [cell(2, 2), "right", cell(2, 2), 0],
  ];
  const n = steps.length;
  const obs = new Float32Array(n * 3 * H * W);
  const nextObs = new Float32Array(n * 3 * H * W);
  steps.forEach(([from, , to], i) => {
    obs.set(obsOf(from), i * 3 * H * W);
    nextObs.set(obsOf(to), i * 3 * H * W);
  });
  const actions = Int32Array.from(steps, ([, a]) => act(a));
  const done = Float32Array.from(steps, ([, , , d]) => d);
  const handPlanner = (options: Record<string, unknown> = {}): PlannerActorCritic =>
    createPolicy(
      { kind: "planner", obsShape: [3, H, W], numActions: ACTIONS.length, env: { channels: ["agent", "wall", "cheese"], agentChannel: "agent", actions: ACTIONS }, options: { transitions: "learned", transitionLoss: 1, iterations: 6, ...options } },
      new Rng(5, "init"),
    ) as PlannerActorCritic;
  const labelled = (planner: PlannerActorCritic): { unit: Int32Array; target: Uint8Array } => {
    const unit = new Int32Array(n);
    const target = new Uint8Array(n);
    planner.experienceLoss!.label(obs, actions, nextObs, done, n, unit, target);
    return { unit, target };
  };

  it("labels each move by the cell it tried to enter and whether the agent entered it; skips ended episodes, stays, moves off the grid", () => {
    const { unit, target } = labelled(handPlanner());
    expect(Array.from(unit)).toEqual([cell(1, 2), cell(1, 3), -1, -1, -1, -1, cell(2, 1), cell(2, 3)]);
    expect(Array.from(target)).toEqual([1, 0, 0, 0, 0, 0, 1, 0]);
  });

  it("its gradient (times the coefficient) matches finite differences of the loss", () => {
    const planner = handPlanner({ transitionLoss: 0.7 });
    const rng = new Rng(8, "weights");
    for (const p of planner.rewardHead.parameters()) rng.fillUniform(p.data, -0.5, 0.5);
    const { unit, target } = labelled(planner);
    const loss = (): number => planner.experienceLoss!.apply(obs, unit, target, n, false);
    // the loss by hand: the mean binary cross-entropy of the labelled cells' passability
    const p = planner.mesaObjective(new Tensor(obs.slice(), [n, 3, H, W])).passability!.data;
    let bce = 0;
    for (let i = 0; i < n; i++) if (unit[i]! >= 0) bce -= target[i] ? Math.log(p[i * H * W + unit[i]!]!) : Math.log(1 - p[i * H * W + unit[i]!]!);
    expect(loss()).toBeCloseTo(bce / 4, 5);
    planner.zeroGrad();
    expect(planner.experienceLoss!.apply(obs, unit, target, n, true)).toBeCloseTo(bce / 4, 5);
    const eps = 1e-2;
    let checked = 0;
    for (const [name, param] of planner.rewardHead.namedParameters()) {
      const grad = param.grad!.data;
      for (let j = 0; j < param.size; j += Math.max(1, Math.floor(param.size / 7))) {
        const keep = param.data[j]!;
        param.data[j] = keep + eps;
        const up = loss();
        param.data[j] = keep - eps;
        const down = loss();
        param.data[j] = keep;
        const numeric = (0.7 * (up - down)) / (2 * eps);
        expect(Math.abs(grad[j]! - numeric), `${name}[${j}]: ${grad[j]} vs ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    // the rest of the planner gets no gradient from it
    expect(planner.logInverseTemperature.grad).toBeNull();
  });

  it("pulls the gates of the walls it bumped into down and those of the cells it entered up", () => {
    const planner = handPlanner();
    const { unit, target } = labelled(planner);
    const gates = (): Float32Array => planner.mesaObjective(new Tensor(obs.slice(0, 3 * H * W), [1, 3, H, W])).passability!.data.slice();
    const before = gates();
    for (let step = 0; step < 20; step++) {
      planner.zeroGrad();
      planner.experienceLoss!.apply(obs, unit, target, n, true);
      for (const p of planner.parameters()) if (p.grad) for (let j = 0; j < p.size; j++) p.data[j]! -= 0.5 * p.grad.data[j]!;
    }
    const after = gates();
    for (const w of walls) {
      expect(before[w]!).toBeGreaterThan(0.4);
      expect(after[w]!, `wall ${w}`).toBeLessThan(before[w]! - 0.1);
    }
    for (const o of [cell(1, 2), cell(2, 1)]) expect(after[o]!, `open ${o}`).toBeGreaterThan(before[o]! + 0.1);
  });

  it("round-trips through the spec (old specs: no loss), and rejects bad values saying what to do", () => {
    const planner = handPlanner({ transitionLoss: 0.25 });
    const spec = JSON.parse(JSON.stringify(planner.spec));
    expect(spec.options.transitionLoss).toBe(0.25);
    expect((createPolicy(spec, new Rng(2)) as PlannerActorCritic).experienceLoss?.name).toBe("transition_loss");
    const { transitionLoss: _, ...older } = spec.options;
    expect((createPolicy({ ...spec, options: older }, new Rng(2)) as PlannerActorCritic).experienceLoss).toBeUndefined();
    expect(handPlanner({ transitionLoss: 0 }).experienceLoss).toBeUndefined();
    expect(() => handPlanner({ transitionLoss: -1 })).toThrow(/transitionLoss/);
    expect(() => handPlanner({ transitionLoss: "strong" })).toThrow(/transitionLoss/);
    expect(() => handPlanner({ transitionLoss: Number.POSITIVE_INFINITY })).toThrow(/transitionLoss/);
    let hint = "";
    try {
      handPlanner({ transitions: "blocking" });
    } catch (e) {
      hint = `${(e as Error).message} | ${(e as MesaError).hint}`;
    }
    expect(hint).toMatch(/transitionLoss=1 supervises the learned passability.*\| add --model-param transitions=learned, or drop transitionLoss/);
  });

  it("stops with a clear error when the agent's cell never changes (a view centred on the agent), not on the whole grid", () => {
    const walk = (view: number): string => {
      const env = new VecEnv(mazeCheese, { n: 64, distribution: "train", params: { minCells: 3, maxCells: 3, view } });
      env.reset(1);
      const planner = learnedPlanner(env, { transitionLoss: 1 });
      const unit = new Int32Array(64);
      const target = new Uint8Array(64);
      const rng = new Rng(3, "moves");
      try {
        for (let t = 0; t < 100; t++) {
          const before = env.obs.slice();
          const moves = Int32Array.from({ length: 64 }, () => rng.int(env.numActions));
          env.step(moves);
          const ended = Float32Array.from({ length: 64 }, (_, i) => env.terminated[i]! | env.truncated[i]!);
          planner.experienceLoss!.label(before, moves, env.obs, ended, 64, unit, target);
        }
      } catch (e) {
        return `${(e as Error).message} | ${(e as MesaError).hint}`;
      }
      return "no error";
    };
    expect(walk(7)).toMatch(/the agent's cell never changed.*every move fails \| .*use the whole-grid observation, or drop transitionLoss/);
    expect(walk(0)).toBe("no error");
  });

  it("inside PPO: logged as losses/transition_loss, falling, and the walls' gates end lower than without it", async () => {
    const train = async (transitionLoss: number): Promise<{ history: PpoMetrics[]; wall: number; open: number }> => {
      const config = ppoConfig({ numEnvs: 8, numSteps: 32, totalTimesteps: 8 * 32 * 8, numMinibatches: 4, learningRate: 2e-3, seed: 4 });
      const env = new VecEnv(mazeCheese, { n: config.numEnvs, distribution: "train", params: { minCells: 3, maxCells: 4 } });
      const planner = learnedPlanner(env, { transitionLoss, iterations: 12 });
      const history: PpoMetrics[] = [];
      await trainPPO(env, planner, config, { onUpdate: (m) => void history.push(m) });
      const probe = new VecEnv(mazeCheese, { n: 16, distribution: "deploy", params: { minCells: 3, maxCells: 4 } });
      probe.reset(77);
      const gates = planner.mesaObjective(new Tensor(probe.obs.slice(), [16, ...probe.obsShape])).passability!.data;
      const hw = probe.height * probe.width;
      const wallChannel = probe.channels.indexOf("wall");
      let wall = 0;
      let walls = 0;
      let open = 0;
      for (let b = 0; b < 16; b++) {
        for (let s = 0; s < hw; s++) {
          if (probe.obs[(b * probe.numChannels + wallChannel) * hw + s]! > 0.5) {
            wall += gates[b * hw + s]!;
            walls++;
          } else open += gates[b * hw + s]!;
        }
      }
      return { history, wall: wall / walls, open: open / (16 * hw - walls) };
    };
    const withLoss = await train(1);
    const without = await train(0);
    const losses = withLoss.history.map((m) => m["losses/transition_loss"]);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    expect(without.history.at(-1)).not.toHaveProperty(["losses/transition_loss"]);
    expect(withLoss.wall).toBeLessThan(without.wall - 0.1);
    expect(withLoss.wall).toBeLessThan(withLoss.open - 0.2);
  });
});

function learnedPlanner(env: VecEnv, options: Record<string, unknown> = {}): PlannerActorCritic {
  const planner = createPolicy(
    {
      kind: "planner",
      obsShape: [...env.obsShape],
      numActions: env.numActions,
      env: { channels: [...env.channels], agentChannel: env.def.agent.channel, actions: [...env.actionNames], ...(env.def.observedMoves ? { dynamics: env.def.name } : {}) },
      options: { transitions: "learned", ...options },
    },
    new Rng(1, "init"),
  );
  if (!(planner instanceof PlannerActorCritic)) throw new Error("not a planner");
  return planner;
}

describe("planner with learned transitions", () => {
  it("given the cheese as its goal and the walls as its passability map, walks the scripted shortest path", () => {
    const n = 12;
    const env = new VecEnv(mazeCheese, { n, distribution: "deploy", params: { minCells: 3, maxCells: 4 } });
    env.reset(11);
    const planner = learnedPlanner(env, { iterations: 40 });
    planner.logInverseTemperature.data[0] = Math.log(100);
    const hw = env.height * env.width;
    const channel = (obs: Tensor, name: string): Float32Array => {
      const k = env.channels.indexOf(name);
      const out = new Float32Array(n * hw);
      for (let b = 0; b < n; b++) out.set(obs.data.subarray((b * env.numChannels + k) * hw, (b * env.numChannels + k + 1) * hw), b * hw);
      return out;
    };
    const scripted = scriptedPolicy(env, "intended");
    const expected = new Int32Array(n);
    const actions = new Int32Array(n);
    const handSet = (obs: Tensor) => {
      const cheese = channel(obs, "cheese");
      const passable = channel(obs, "wall").map((w) => 1 - w);
      return noGrad(() =>
        planner.runWithHooks(obs, {
          "planner.hook_reward_map": (r) => new Tensor(cheese.slice(), r.shape),
          "planner.hook_termination": (t) => new Tensor(cheese.slice(), t.shape),
          "planner.hook_passability": (p) => new Tensor(passable.slice(), p.shape),
        }),
      );
    };
    let compared = 0;
    for (let step = 0; step < 25; step++) {
      const obs = new Tensor(env.obs.slice(), [n, ...env.obsShape]);
      const out = handSet(obs);
      for (let b = 0; b < n; b++) {
        let best = 0;
        for (let a = 1; a < env.numActions; a++) if (out.logits.data[b * env.numActions + a]! > out.logits.data[b * env.numActions + best]!) best = a;
        actions[b] = best;
      }
      scripted.act(env, expected);
      for (let b = 0; b < n; b++, compared++) expect(actions[b], `copy ${b}, step ${step}`).toBe(expected[b]);
      env.step(actions);
    }
    expect(compared).toBe(n * 25);
    // with every cell passable the same goal is planned through the walls: some first move differs
    env.reset(11);
    const obs = new Tensor(env.obs.slice(), [n, ...env.obsShape]);
    scripted.act(env, expected);
    const cheese = channel(obs, "cheese");
    const free = noGrad(() =>
      planner.runWithHooks(obs, {
        "planner.hook_reward_map": (r) => new Tensor(cheese.slice(), r.shape),
        "planner.hook_termination": (t) => new Tensor(cheese.slice(), t.shape),
        "planner.hook_passability": (p) => new Tensor(new Float32Array(p.size).fill(1), p.shape),
      }),
    );
    const greedy = Array.from({ length: n }, (_, b) => {
      const row = Array.from(free.logits.data.subarray(b * env.numActions, (b + 1) * env.numActions));
      return row.indexOf(Math.max(...row));
    });
    expect(greedy.some((a, b) => a !== expected[b])).toBe(true);
  });

  it("shows its passability (hook, mesaObjective), learns it by gradient, and round-trips through its spec and weights", () => {
    const env = new VecEnv(mazeCheese, { n: 4, distribution: "train" });
    env.reset(3);
    const planner = learnedPlanner(env, { initialPassabilityLogit: 1 });
    expect(planner.learnsTransitions).toBe(true);
    expect(planner.hookNames()).toEqual(["planner.hook_reward_map", "planner.hook_termination", "planner.hook_passability", "planner.hook_values", "planner.hook_q"]);
    const obs = new Tensor(env.obs.slice(), [4, ...env.obsShape]);
    const m = planner.mesaObjective(obs);
    expect(m.passability!.shape).toEqual([4, env.height, env.width]);
    // the output layer starts small: every cell's passability ≈ sigmoid(1)
    for (const p of m.passability!.data) expect(p).toBeCloseTo(1 / (1 + Math.exp(-1)), 1);
    const out = planner.forward(obs);
    out.logits.sum().add(out.value.sum()).backward();
    const outWeight = planner.rewardHead.out.weight;
    expect(outWeight.shape[0]).toBe(3);
    const hidden = outWeight.shape[1]!;
    expect(Array.from(outWeight.grad!.data.subarray(2 * hidden, 3 * hidden)).some((g) => g !== 0)).toBe(true); // the passability map's weights get gradient
    // spec (as written to config.json) and weights (as safetensors) → the same policy
    const spec = JSON.parse(JSON.stringify(planner.spec));
    expect(spec.options.transitions).toBe("learned");
    const loaded = createPolicy(spec, new Rng(99, "other")) as PlannerActorCritic;
    loaded.loadStateDict(safetensorsToStateDict(stateDictToSafetensors(planner.stateDict())).tensors);
    const a = noGrad(() => planner.forward(obs));
    const b = noGrad(() => loaded.forward(obs));
    expect(Array.from(b.logits.data)).toEqual(Array.from(a.logits.data));
    expect(Array.from(b.value.data)).toEqual(Array.from(a.value.data));
    // a planner saved before the setting existed (no transitions in its spec) reads its walls, with 2 output maps
    const old = createPolicy({ ...spec, options: {} }, new Rng(1)) as PlannerActorCritic;
    expect(old.learnsTransitions).toBe(false);
    expect(old.rewardHead.out.weight.shape[0]).toBe(2);
    expect(old.hookNames()).not.toContain("planner.hook_passability");
  });

  it("rejects a bad transitions value and settings that contradict it, saying what to do", () => {
    const env = new VecEnv(mazeCheese, { n: 1 });
    expect(() => learnedPlanner(env, { transitions: "magic" })).toThrow(/transitions[\s\S]*blocking[\s\S]*learned/);
    const hintOf = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return `${(e as Error).message} | ${(e as MesaError).hint}`;
      }
      return "no error";
    };
    expect(hintOf(() => learnedPlanner(env, { blocking: ["wall"] }))).toMatch(/learns where moves fail.*\| drop --model-param blocking/);
    const coin = new VecEnv(coinRun, { n: 1 });
    expect(hintOf(() => learnedPlanner(coin))).toMatch(/gates grid moves.*coin-run's own moves \| add --model-param dynamics=grid/);
    expect(learnedPlanner(coin, { dynamics: "grid" }).learnsTransitions).toBe(true);
  });

  it("reads how well its passability matches the observation's walls (mesa objective's AUC and accuracy)", () => {
    const objectives = envObjectives(mazeCheese, environments);
    const views = readingLevels(mazeCheese, objectives, { n: 6, distribution: "deploy", params: {}, seed: 4 });
    const env = views[0]!.env;
    const planner = learnedPlanner(env);
    // a head whose passability logit is 10 − 20·wall (hidden unit 0 copies the wall channel at the cell): open ≈ 1, walls ≈ 0
    const head = planner.rewardHead;
    const [hidden, inputs] = head.conv.weight.shape as [number, number, number, number];
    const wall = env.channels.indexOf("wall");
    const setHead = (sign: number): void => {
      head.conv.weight.data.fill(0);
      head.conv.bias!.data.fill(0);
      head.context.weight.data.fill(0);
      head.conv.weight.data[(0 * inputs + wall) * 9 + 4] = 1; // unit 0, wall channel, centre tap
      head.out.weight.data.fill(0);
      head.out.weight.data[2 * hidden] = -20 * sign;
      head.out.bias!.data[2] = 10 * sign;
    };
    setHead(1);
    const right = scoreRewardMaps(planner, views, objectives, 0).passability!;
    expect(right.levels).toBe(views.length);
    expect(right.auc.value).toBe(1);
    expect(right.accuracy.value).toBe(1);
    expect(right.open_mean.value).toBeGreaterThan(0.99);
    expect(right.wall_mean.value).toBeLessThan(0.01);
    setHead(-1); // walls passable, open cells not: every cell on the wrong side
    const wrong = scoreRewardMaps(planner, views, objectives, 0).passability!;
    expect(wrong.auc.value).toBe(0);
    expect(wrong.accuracy.value).toBe(0);
    // a planner that reads its walls has no passability to score
    const known = createPolicy({ ...planner.spec, options: {} }, new Rng(1)) as PlannerActorCritic;
    expect(scoreRewardMaps(known, views, objectives, 0).passability).toBeNull();
  });
});
