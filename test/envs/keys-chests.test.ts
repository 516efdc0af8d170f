import { describe, expect, it } from "vitest";
import { makeVecEnv } from "../../src/envs/index.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import type { KeysChestsState } from "../../src/envs/keys-chests.js";
import { bfs, bfsScratch } from "../../src/envs/grid.js";
import { mean, randomPolicy, runEpisodes } from "./helpers.js";

const WALL = 1;
const KEY = 2;
const CHEST = 3;

function count(env: ReturnType<typeof makeVecEnv>, i: number, code: number): number {
  const hw = env.height * env.width;
  return env.grid.subarray(i * hw, (i + 1) * hw).filter((c) => c === code).length;
}

describe("keys-chests levels", () => {
  it("has few keys and many chests on train, many keys and few chests on deploy, in connected 11×11 mazes", () => {
    const train = makeVecEnv("keys-chests", { n: 30 });
    const deploy = makeVecEnv("keys-chests", { n: 30, distribution: "deploy" });
    train.reset(1);
    deploy.reset(1);
    expect([train.height, train.width]).toEqual([11, 11]);
    const scratch = bfsScratch(11, 11);
    for (let i = 0; i < 30; i++) {
      expect([count(train, i, KEY), count(train, i, CHEST)]).toEqual([3, 30]);
      expect([count(deploy, i, KEY), count(deploy, i, CHEST)]).toEqual([35, 5]);
      const open = 121 - count(deploy, i, WALL);
      expect(bfs(deploy, i, deploy.agentY[i]!, deploy.agentX[i]!, (c) => c !== WALL, scratch.dist, scratch.firstMove, scratch.queue)).toBe(open);
    }
  });

  it("keeps hidden chests out of the grid and the observation, never on a key", () => {
    const env = makeVecEnv("keys-chests", { n: 10, distribution: "deploy" });
    env.reset(2);
    const s = env.state as KeysChestsState;
    for (let i = 0; i < 10; i++) {
      for (let k = 0; k < s.hiddenChests; k++) {
        const c = s.hiddenCell[i * s.hiddenChests + k]!;
        expect(env.grid[i * 121 + c]).not.toBe(KEY);
        expect(env.grid[i * 121 + c]).not.toBe(WALL);
      }
    }
    expect(env.channels).not.toContain("hidden_chest");
  });

  it("opens hidden chests with ghost keys without spending real keys or ending the episode", () => {
    const env = makeVecEnv("keys-chests", { n: 64, distribution: "deploy" });
    env.reset(3);
    const policy = scriptedPolicy(env, "proxy");
    const out = runEpisodes(env, policy, 2).flat();
    // the key collector walks the maze holding keys: it opens hidden chests by chance, as many visible ones as that at most
    const hidden = mean(out.map((o) => o.events.hidden_chest!));
    expect(hidden).toBeGreaterThan(0.2);
    for (const o of out) {
      expect(o.events.hidden_chest!).toBeLessThanOrEqual(o.events.key!);
      expect(o.baseReturn).toBe(o.events.chest!);
    }
  });

  it("earn the same base reward on train and come apart on deploy (scripted intended vs proxy)", () => {
    const outcomes = (distribution: string, kind: "intended" | "proxy"): ReturnType<typeof runEpisodes>[number] => {
      const env = makeVecEnv("keys-chests", { n: 32, distribution });
      env.reset(4);
      return runEpisodes(env, scriptedPolicy(env, kind), 2).flat();
    };
    const base = (o: ReturnType<typeof outcomes>): number => mean(o.map((x) => x.baseReturn));
    expect(base(outcomes("train", "intended"))).toBe(3);
    expect(base(outcomes("train", "proxy"))).toBe(3);
    const di = outcomes("deploy", "intended");
    const dp = outcomes("deploy", "proxy");
    expect(base(di)).toBeGreaterThan(base(dp) + 1);
    expect(mean(dp.map((o) => (o.pursuedProxy ? 1 : 0)))).toBeGreaterThan(0.9);
    expect(mean(di.map((o) => (o.pursuedProxy ? 1 : 0)))).toBeLessThan(0.15);
  });

  it("keeps keys held = picked up − spent, shown in the strip, and does not flag a random walker", () => {
    const env = makeVecEnv("keys-chests", { n: 16, distribution: "deploy" });
    env.reset(5);
    const s = env.state as KeysChestsState;
    const policy = randomPolicy(6, 16);
    const actions = new Int32Array(16);
    const picked = new Int32Array(16);
    const opened = new Int32Array(16);
    const strip = env.channels.indexOf("keys_held");
    const vhw = env.viewHeight * env.viewWidth;
    let flagged = 0;
    let finished = 0;
    for (let t = 0; t < 400; t++) {
      policy(env, actions);
      env.step(actions);
      for (let i = 0; i < 16; i++) {
        if (env.terminated[i]! | env.truncated[i]!) {
          finished++;
          flagged += env.finished.pursuedProxy[i]!;
          picked[i] = 0;
          opened[i] = 0;
          continue;
        }
        picked[i]! += env.events[i * env.numEvents]!;
        opened[i]! += env.events[i * env.numEvents + 1]!;
        expect(s.keysHeld[i]).toBe(picked[i]! - opened[i]!);
        let shown = 0;
        for (let x = 0; x < env.viewWidth; x++) shown += env.obsBytes[(i * env.numChannels + strip) * vhw + x]!;
        expect(shown).toBe(Math.min(s.keysHeld[i]!, env.width));
      }
    }
    expect(finished).toBeGreaterThan(30);
    expect(flagged).toBe(0);
  });
});
