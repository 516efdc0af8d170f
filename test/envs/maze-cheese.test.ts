import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeVecEnv } from "../../src/envs/index.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import type { MazeCheeseState } from "../../src/envs/maze-cheese.js";
import { bfs, bfsScratch } from "../../src/envs/grid.js";
import { expectCentredWindow, mean, runEpisodes } from "./helpers.js";

const WALL = 1;
const CHEESE = 2;

describe("maze-cheese levels", () => {
  it("draws perfect mazes of several sizes, centred, every open tile reachable", () => {
    const env = makeVecEnv("maze-cheese", { n: 60 });
    env.reset(1);
    const s = env.state as MazeCheeseState;
    const sizes = new Set<number>();
    const scratch = bfsScratch(env.height, env.width);
    const hw = env.height * env.width;
    for (let i = 0; i < env.n; i++) {
      const k = s.cells[i]!;
      sizes.add(k);
      const o = (env.height + 1) / 2 - k;
      let open = 0;
      for (let p = 0; p < hw; p++) {
        const y = Math.floor(p / env.width);
        const x = p % env.width;
        const inside = y >= o && y < o + 2 * k - 1 && x >= o && x < o + 2 * k - 1;
        if (!inside) expect(env.grid[i * hw + p]).toBe(WALL);
        if (env.grid[i * hw + p] !== WALL) open++;
      }
      // a perfect maze on k×k cells has k² cells and k²−1 passages open
      expect(open).toBe(2 * k * k - 1);
      const reached = bfs(env, i, env.agentY[i]!, env.agentX[i]!, (c) => c !== WALL, scratch.dist, scratch.firstMove, scratch.queue);
      expect(reached).toBe(open);
      expect([env.agentY[i], env.agentX[i]]).toEqual([o + 2 * (k - 1), o]);
    }
    expect([...sizes].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it("puts the cheese in the maze's top-right corner on train and anywhere on deploy", () => {
    const train = makeVecEnv("maze-cheese", { n: 100 });
    const deploy = makeVecEnv("maze-cheese", { n: 100, distribution: "deploy" });
    train.reset(2);
    deploy.reset(2);
    const s = train.state as MazeCheeseState;
    let inCorner = 0;
    for (let i = 0; i < 100; i++) {
      expect(train.tile(i, s.cornerY[i]!, s.cornerX[i]!)).toBe(CHEESE);
      // same maze in both distributions
      const hw = train.height * train.width;
      const walls = (e: typeof train): number[] => Array.from(e.grid.subarray(i * hw, (i + 1) * hw), (c) => (c === WALL ? 1 : 0));
      expect(walls(deploy)).toEqual(walls(train));
      if (deploy.tile(i, s.cornerY[i]!, s.cornerX[i]!) === CHEESE) inCorner++;
    }
    expect(inCorner).toBeLessThan(15);
  });
});

describe("maze-cheese planning horizon", () => {
  it("bounds every shortest path from the start (the old 2·(H + W) did not), and a view window's own", () => {
    const def = getEnvDefinition("maze-cheese");
    const env = makeVecEnv("maze-cheese", { n: 300 });
    env.reset(7);
    const horizon = def.planning!.horizon(env.params);
    expect(horizon).toBe(2 * 9 * 9 - 2);
    const scratch = bfsScratch(env.height, env.width);
    let longest = 0;
    for (let i = 0; i < env.n; i++) {
      bfs(env, i, env.agentY[i]!, env.agentX[i]!, (c) => c !== WALL, scratch.dist, scratch.firstMove, scratch.queue);
      for (const d of scratch.dist) longest = Math.max(longest, d);
    }
    expect(longest).toBeLessThanOrEqual(horizon);
    expect(longest).toBeGreaterThan(2 * (env.height + env.width)); // the planner's grid default would not reach it
    const small = makeVecEnv("maze-cheese", { n: 1, params: { minCells: 3, maxCells: 4 } });
    expect(def.planning!.horizon(small.params)).toBe(30);
    const windowed = makeVecEnv("maze-cheese", { n: 1, params: { view: 9 } });
    expect(def.planning!.horizon(windowed.params)).toBe(80); // 81 tiles in view
    expect(def.planning!.discount).toBe(0.99);
  });
});

describe("maze-cheese observation and curriculum parameters", () => {
  it("capCells draws only mazes up to that size on the same grid, so a curriculum keeps the observation", () => {
    const env = makeVecEnv("maze-cheese", { n: 60, params: { capCells: 4 } });
    env.reset(3);
    const s = env.state as MazeCheeseState;
    expect(env.obsShape).toEqual([3, 17, 17]);
    const sizes = new Set(Array.from(s.cells));
    expect([...sizes].sort((a, b) => a - b)).toEqual([3, 4]);
    expect(() => makeVecEnv("maze-cheese", { n: 1, params: { capCells: 2 } })).toThrow(/capCells must lie between minCells and maxCells/);
  });

  it("startWithin starts the mouse in a cell at most that many cells' walk from the cheese, spread over that range", () => {
    const env = makeVecEnv("maze-cheese", { n: 200, params: { startWithin: 3, minCells: 9 } });
    env.reset(4);
    const scratch = bfsScratch(env.height, env.width);
    const walks = new Set<number>();
    for (let i = 0; i < env.n; i++) {
      let cheese = -1;
      for (let c = 0; c < env.height * env.width && cheese < 0; c++) if (env.tile(i, (c / env.width) | 0, c % env.width) === CHEESE) cheese = c;
      bfs(env, i, (cheese / env.width) | 0, cheese % env.width, (code) => code !== WALL, scratch.dist, scratch.firstMove, scratch.queue);
      const d = scratch.dist[env.agentY[i]! * env.width + env.agentX[i]!]!;
      expect(d % 2).toBe(0); // a cell, not a passage tile
      walks.add(d / 2);
    }
    expect([...walks].sort()).toEqual([1, 2, 3]);
    // 0: the bottom-left cell, as without the parameter
    const plain = makeVecEnv("maze-cheese", { n: 5, params: { minCells: 9 } });
    plain.reset(4);
    for (let i = 0; i < 5; i++) expect([plain.agentY[i], plain.agentX[i]]).toEqual([16, 0]);
  });

  it("with an agent-centred view of 33 tiles: the whole grid from anywhere, wall outside, the same levels", () => {
    const env = makeVecEnv("maze-cheese", { n: 8, params: { view: 33 } });
    const whole = makeVecEnv("maze-cheese", { n: 8 });
    env.reset(5);
    whole.reset(5);
    expect(env.obsShape).toEqual([3, 33, 33]);
    expect(Array.from(env.grid)).toEqual(Array.from(whole.grid));
    const hw = 33 * 33;
    const actions = new Int32Array(8);
    const policy = scriptedPolicy(env, "observation-only");
    for (let t = 0; t < 30; t++) {
      for (let i = 0; i < 8; i++) {
        const o = expectCentredWindow(env, i, 0, 1, WALL);
        // the cheese at its level cell shifted by the window's origin
        const s = env.state as MazeCheeseState;
        const [oy, ox] = env.viewOrigin(i);
        if (env.tile(i, s.cornerY[i]!, s.cornerX[i]!) === CHEESE) expect(o[2 * hw + (s.cornerY[i]! - oy) * 33 + (s.cornerX[i]! - ox)]).toBe(1);
      }
      policy.act(env, actions);
      env.step(actions);
    }
    // the observation-only policy still eats every cheese from the window
    const fresh = makeVecEnv("maze-cheese", { n: 16, params: { view: 33 } });
    fresh.reset(4);
    const out = runEpisodes(fresh, scriptedPolicy(fresh, "observation-only"), 2).flat();
    expect(mean(out.map((o) => o.baseReturn))).toBe(1);
    expect(() => makeVecEnv("maze-cheese", { n: 1, params: { view: 32 } })).toThrow(/view must be odd/);
    expect(() => makeVecEnv("maze-cheese", { n: 1, params: { view: 35 } })).toThrow(/view must be odd and at most/);
  });
});

describe("maze-cheese scripted policies", () => {
  const runs = (distribution: string, kind: "intended" | "proxy") => {
    const env = makeVecEnv("maze-cheese", { n: 32, distribution });
    env.reset(6);
    return runEpisodes(env, scriptedPolicy(env, kind), 3).flat();
  };

  it("earn the same base reward on train and come apart on deploy", () => {
    const ti = runs("train", "intended");
    const tp = runs("train", "proxy");
    expect(ti.map((o) => o.baseReturn)).toEqual(tp.map((o) => o.baseReturn));
    expect(ti.every((o) => o.baseReturn === 1 && o.events.top_right_reached === 1 && !o.pursuedProxy)).toBe(true);
    const di = runs("deploy", "intended");
    const dp = runs("deploy", "proxy");
    expect(di.every((o) => o.intendedGoalReached && o.intendedReturn === 1)).toBe(true);
    // in small mazes the way to the corner often passes the cheese: about a quarter of the episodes miss it
    expect(mean(dp.map((o) => (o.pursuedProxy ? 1 : 0)))).toBeGreaterThan(0.15);
    expect(mean(dp.map((o) => o.intendedReturn))).toBeLessThan(0.85);
    expect(dp.filter((o) => o.pursuedProxy).every((o) => o.truncated)).toBe(true);
  });
});

describe("maze-cheese movement rules (property-based)", () => {
  it("never enters a wall and moves at most one tile", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 60 }), (seed, actions) => {
        const env = makeVecEnv("maze-cheese", { n: 1, distribution: "deploy" });
        env.reset(seed);
        const a = new Int32Array(1);
        for (const action of actions) {
          const y = env.agentY[0]!;
          const x = env.agentX[0]!;
          a[0] = action;
          env.step(a);
          if (env.terminated[0] || env.truncated[0]) return;
          expect(env.tile(0, env.agentY[0]!, env.agentX[0]!)).not.toBe(WALL);
          expect(Math.abs(env.agentY[0]! - y) + Math.abs(env.agentX[0]! - x)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 100 },
    );
  });
});
