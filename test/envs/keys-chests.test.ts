import { describe, expect, it } from "vitest";
import { makeVecEnv } from "../../src/envs/index.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import type { KeysChestsState } from "../../src/envs/keys-chests.js";
import { bfs, bfsScratch } from "../../src/envs/grid.js";
import { expectCentredWindow, mean, randomPolicy, runEpisodes } from "./helpers.js";

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

  it("with an agent-centred view: the whole maze from anywhere, wall outside, the keys-held strip fixed at the top left", () => {
    const env = makeVecEnv("keys-chests", { n: 8, params: { view: 21 } });
    const whole = makeVecEnv("keys-chests", { n: 8 });
    env.reset(7);
    whole.reset(7);
    expect(env.obsShape).toEqual([5, 21, 21]);
    expect(Array.from(env.grid)).toEqual(Array.from(whole.grid)); // the same levels: only the observation differs
    const s = env.state as KeysChestsState;
    const policy = scriptedPolicy(env, "observation-only");
    const actions = new Int32Array(8);
    const hw = 21 * 21;
    const [agent, wall, , , strip] = [0, 1, 2, 3, 4];
    let heldSeen = 0;
    for (let t = 0; t < 60; t++) {
      for (let i = 0; i < 8; i++) {
        // the level's cell (y, x) at window cell (y − agentY + 10, x − agentX + 10); everything else is wall
        const o = expectCentredWindow(env, i, agent, wall, WALL);
        let shown = 0;
        for (let x = 0; x < 21; x++) shown += o[strip * hw + x]!;
        expect(shown).toBe(Math.min(s.keysHeld[i]!, 11));
        heldSeen += s.keysHeld[i]! > 0 ? 1 : 0;
      }
      policy.act(env, actions);
      env.step(actions);
    }
    expect(heldSeen).toBeGreaterThan(0);
    // the observation-only policy still solves the train levels from the window
    const fresh = makeVecEnv("keys-chests", { n: 32, params: { view: 21 } });
    fresh.reset(4);
    const out = runEpisodes(fresh, scriptedPolicy(fresh, "observation-only"), 2).flat();
    expect(mean(out.map((o) => o.baseReturn))).toBe(3);
    expect(() => makeVecEnv("keys-chests", { n: 1, params: { view: 20 } })).toThrow(/view must be odd/);
    expect(() => makeVecEnv("keys-chests", { n: 1, params: { view: 23 } })).toThrow(/view must be odd and at most/);
  });

  it("draws a smaller maze (levelCells) at varying places of the grid, walled around, for curricula", () => {
    const env = makeVecEnv("keys-chests", { n: 40, params: { levelCells: 3, chests: 8 } });
    env.reset(8);
    const corners = new Set<string>();
    const scratch = bfsScratch(11, 11);
    for (let i = 0; i < 40; i++) {
      let y0 = 11;
      let x0 = 11;
      let y1 = -1;
      let x1 = -1;
      for (let p = 0; p < 121; p++) {
        if (env.grid[i * 121 + p] === WALL) continue;
        const y = (p / 11) | 0;
        const x = p % 11;
        [y0, x0, y1, x1] = [Math.min(y0, y), Math.min(x0, x), Math.max(y1, y), Math.max(x1, x)];
      }
      expect([y1 - y0, x1 - x0]).toEqual([4, 4]); // 3 cells = 5 tiles a side
      expect(y0 % 2 + (x0 % 2)).toBe(0);
      corners.add(`${y0},${x0}`);
      expect([count(env, i, KEY), count(env, i, CHEST)]).toEqual([3, 8]);
      const open = 121 - count(env, i, WALL);
      expect(bfs(env, i, env.agentY[i]!, env.agentX[i]!, (c) => c !== WALL, scratch.dist, scratch.firstMove, scratch.queue)).toBe(open);
    }
    expect(corners.size).toBeGreaterThan(8);
    // levelCells 0 (the default) is the whole grid: the train levels are unchanged by the parameter
    const a = makeVecEnv("keys-chests", { n: 4 });
    const b = makeVecEnv("keys-chests", { n: 4, params: { levelCells: 6 } });
    a.reset(9);
    b.reset(9);
    expect(Array.from(b.grid)).toEqual(Array.from(a.grid));
    expect(() => makeVecEnv("keys-chests", { n: 1, params: { levelCells: 7 } })).toThrow(/levelCells must not exceed mazeCells/);
  });
});
