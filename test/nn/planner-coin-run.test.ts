// The planner on coin-run plans with the env's own moves (gravity, two-cell jumps, lava), read from what it sees:
// the moves it plans with are the moves the env makes, and a planner whose reward map marks the coin (set by
// hand) gets it wherever the scripted coin-seeker does — which free 4-connected moves (flying) do not.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor, noGrad } from "../../src/core/tensor.js";
import { VecEnv } from "../../src/envs/engine.js";
import { coinRun } from "../../src/envs/coin-run.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import "../../src/nn/models/planner.js"; // registers the model kind
import type { PlannerActorCritic } from "../../src/nn/models/planner.js";
import { createPolicy } from "../../src/nn/models/policy.js";

function coinRunPlanner(env: VecEnv, options: Record<string, unknown> = {}): PlannerActorCritic {
  return createPolicy(
    {
      kind: "planner",
      obsShape: [...env.obsShape],
      numActions: env.numActions,
      env: { channels: [...env.channels], agentChannel: env.def.agent.channel, actions: [...env.actionNames], dynamics: "coin-run" },
      options,
    },
    new Rng(1, "init"),
  ) as PlannerActorCritic;
}

/** Greedy episodes of a planner whose reward map is 1 on the coin; termination on the coin and on lava (an open bottom cell). Returns the coin rate. */
function coinRateWithHandSetMap(env: VecEnv, planner: PlannerActorCritic, steps: number): number {
  const { n, height: H, width: W } = env;
  const hw = H * W;
  const C = env.numChannels;
  const wall = env.channels.indexOf("wall");
  const coin = env.channels.indexOf("coin");
  planner.logInverseTemperature.data[0] = Math.log(100);
  const done = new Uint8Array(n);
  let coins = 0;
  const actions = new Int32Array(n);
  for (let step = 0; step < steps; step++) {
    const obs = new Tensor(env.obs.slice(), [n, ...env.obsShape]);
    const reward = new Float32Array(n * hw);
    const term = new Float32Array(n * hw);
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < hw; s++) {
        const isCoin = obs.data[(b * C + coin) * hw + s]! > 0.5;
        const lava = s >= (H - 1) * W && obs.data[(b * C + wall) * hw + s]! < 0.5;
        reward[b * hw + s] = isCoin ? 1 : 0;
        term[b * hw + s] = isCoin || lava ? 1 : 0;
      }
    }
    const out = noGrad(() =>
      planner.runWithHooks(obs, {
        "planner.hook_reward_map": (r) => new Tensor(reward, r.shape),
        "planner.hook_termination": (t) => new Tensor(term, t.shape),
      }),
    );
    const A = env.numActions;
    for (let b = 0; b < n; b++) {
      let best = 0;
      for (let a = 1; a < A; a++) if (out.logits.data[b * A + a]! > out.logits.data[b * A + best]!) best = a;
      actions[b] = best;
    }
    env.step(actions);
    for (let b = 0; b < n; b++) {
      if (done[b]) continue;
      if (env.reward[b]! > 0) coins++;
      if (env.terminated[b] || env.truncated[b]) done[b] = 1;
    }
  }
  return coins / n;
}

describe("planner on coin-run: the env's own moves", () => {
  it("plans with the moves the env makes: every step lands where the planner's table says", () => {
    const n = 8;
    const env = new VecEnv(coinRun, { n, distribution: "deploy", params: { viewWidth: 0 } });
    env.reset(5);
    const S = env.height * env.width;
    const A = env.numActions;
    const next = new Int32Array(S * A);
    const rng = new Rng(3, "moves");
    const actions = new Int32Array(n);
    let checked = 0;
    for (let step = 0; step < 200; step++) {
      const before: number[][] = [];
      for (let b = 0; b < n; b++) {
        coinRun.observedMoves!(env.obs, b * env.numChannels * S, env.height, env.width, next, 0);
        actions[b] = rng.int(A);
        before.push([env.agentY[b]! * env.width + env.agentX[b]!, next[(env.agentY[b]! * env.width + env.agentX[b]!) * A + actions[b]!]!]);
      }
      env.step(actions);
      for (let b = 0; b < n; b++) {
        if (env.terminated[b] || env.truncated[b]) continue; // reset: the new level's start
        expect(env.agentY[b]! * env.width + env.agentX[b]!, `copy ${b} step ${step}`).toBe(before[b]![1]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("remembers the moves over observations it has planned on: the same plans as working them out afresh", () => {
    const n = 32;
    const env = new VecEnv(coinRun, { n, distribution: "train" });
    env.reset(7);
    const rng = new Rng(4, "moves");
    const batches: Float32Array[] = [];
    for (let step = 0; step < 3; step++) {
      batches.push(env.obs.slice());
      env.step(Int32Array.from({ length: n }, () => rng.int(env.numActions)));
    }
    const size = env.obs.length / n;
    // a minibatch of observations seen in the batches above, in another order
    const mixed = new Float32Array(2 * n * size);
    for (let i = 0; i < 2 * n; i++) mixed.set(batches[(i * 7) % 3]!.subarray(((i * 5) % n) * size, ((i * 5) % n + 1) * size), i * size);
    const seen = coinRunPlanner(env);
    for (const b of batches) noGrad(() => seen.forward(new Tensor(b, [n, ...env.obsShape])));
    const fromMemory = noGrad(() => seen.forward(new Tensor(mixed, [2 * n, ...env.obsShape])));
    const fresh = noGrad(() => coinRunPlanner(env).forward(new Tensor(mixed, [2 * n, ...env.obsShape])));
    expect(Array.from(fromMemory.logits.data)).toEqual(Array.from(fresh.logits.data));
    expect(Array.from(fromMemory.value.data)).toEqual(Array.from(fresh.value.data));
  });

  it("with the coin as its hand-set goal, gets the coin wherever the scripted coin-seeker does; free grid moves do not", () => {
    const n = 24;
    const params = { viewWidth: 0 };
    const scripted = new VecEnv(coinRun, { n, distribution: "deploy", params });
    scripted.reset(9);
    const policy = scriptedPolicy(scripted, "intended");
    const acts = new Int32Array(n);
    const got = new Uint8Array(n);
    const done = new Uint8Array(n);
    for (let step = 0; step < 80; step++) {
      policy.act(scripted, acts);
      scripted.step(acts);
      for (let b = 0; b < n; b++) {
        if (!done[b] && scripted.reward[b]! > 0) got[b] = 1;
        if (scripted.terminated[b] || scripted.truncated[b]) done[b] = 1;
      }
    }
    const scriptedRate = got.reduce((s, x) => s + x, 0) / n;
    expect(scriptedRate).toBe(1);

    const env = new VecEnv(coinRun, { n, distribution: "deploy", params });
    env.reset(9);
    expect(coinRateWithHandSetMap(env, coinRunPlanner(env), 80)).toBe(scriptedRate);
    // the old model: free moves up and down (it plans to fly to the coin) — it misses some
    const flat = new VecEnv(coinRun, { n, distribution: "deploy", params });
    flat.reset(9);
    const flatRate = coinRateWithHandSetMap(flat, coinRunPlanner(flat, { dynamics: "grid" }), 80);
    expect(flatRate).toBeLessThan(scriptedRate);
  });

  it("explains settings that do not go together", () => {
    const env = new VecEnv(coinRun, { n: 1 });
    expect(() => coinRunPlanner(env, { blocking: ["wall"] })).toThrow(/blocking applies to grid moves/);
    expect(() =>
      createPolicy(
        { kind: "planner", obsShape: [...env.obsShape], numActions: 4, env: { channels: [...env.channels], agentChannel: "agent", actions: [...env.actionNames], dynamics: "maze-cheese" } },
        new Rng(1),
      ),
    ).toThrow(/declares no moves over its observation/);
  });
});
