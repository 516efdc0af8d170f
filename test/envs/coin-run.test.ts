import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeVecEnv } from "../../src/envs/index.js";
import type { VecEnv } from "../../src/envs/engine.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import { JUMP_HEIGHT } from "../../src/envs/coin-run.js";
import { mean, randomPolicy, runEpisodes } from "./helpers.js";

const WALL = 1;
const COIN = 2;

/** The level's right end: its last column whose top cell is open (the columns after it are wall). */
function endColumn(env: VecEnv, i: number): number {
  let x = env.width - 1;
  while (env.tile(i, 0, x) === WALL) x--;
  return x;
}

describe("coin-run levels", () => {
  it("puts the coin exactly at the right end (standing height) on every train level", () => {
    const env = makeVecEnv("coin-run", { n: 64 });
    for (let ep = 0; ep < 5; ep++) {
      env.reset(100 + ep);
      for (let i = 0; i < env.n; i++) {
        expect(env.tile(i, env.height - 2, endColumn(env, i))).toBe(COIN);
        expect(env.grid.subarray(i * env.height * env.width, (i + 1) * env.height * env.width).filter((c) => c === COIN).length).toBe(1);
      }
    }
  });

  it("draws levels of three difficulties as procgen does: 8, 16 or 24 columns long, wall after the end", () => {
    const env = makeVecEnv("coin-run", { n: 300 });
    env.reset(11);
    const lengths = new Map<number, number>();
    for (let i = 0; i < env.n; i++) {
      const end = endColumn(env, i);
      lengths.set(end + 1, (lengths.get(end + 1) ?? 0) + 1);
      for (let x = end + 1; x < env.width; x++) for (let y = 0; y < env.height; y++) expect(env.tile(i, y, x)).toBe(WALL);
    }
    expect([...lengths.keys()].sort((a, b) => a - b)).toEqual([8, 16, 24]);
    for (const count of lengths.values()) expect(count / env.n).toBeGreaterThan(0.25);
    // maxDifficulty 1: every level spans the whole width
    const full = makeVecEnv("coin-run", { n: 50, params: { maxDifficulty: 1 } });
    full.reset(11);
    for (let i = 0; i < full.n; i++) expect(endColumn(full, i)).toBe(full.width - 1);
  });

  it("stands the deploy coin on the left end of a platform, over the same obstacles as train", () => {
    const train = makeVecEnv("coin-run", { n: 64 });
    const deploy = makeVecEnv("coin-run", { n: 64, distribution: "deploy" });
    train.reset(7);
    deploy.reset(7);
    const hw = train.height * train.width;
    const coinColumns = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const walls = (g: Uint8Array): number[] => Array.from(g.subarray(i * hw, (i + 1) * hw), (c) => (c === WALL ? 1 : 0));
      expect(walls(deploy.grid)).toEqual(walls(train.grid));
      let coinCell = -1;
      for (let p = 0; p < hw; p++) if (deploy.grid[i * hw + p] === COIN) coinCell = p;
      const x = coinCell % train.width;
      const y = (coinCell - x) / train.width;
      expect(x).toBeGreaterThanOrEqual(1);
      expect(x).toBeLessThan(endColumn(train, i));
      // standing on a platform (wall below, open cell under the platform), at its left end
      expect(deploy.tile(i, y + 1, x)).toBe(WALL);
      expect(deploy.tile(i, y + 2, x)).toBe(0);
      expect(deploy.tile(i, y + 1, x - 1)).toBe(0);
      expect(y).toBe(train.height - 4);
      coinColumns.add(x);
    }
    expect(coinColumns.size).toBeGreaterThan(5);
  });

  it("floats random coins one or two cells up with randomCoinPlacement air", () => {
    const env = makeVecEnv("coin-run", { n: 100, distribution: "deploy", params: { randomCoinPlacement: "air" } });
    env.reset(7);
    for (let i = 0; i < env.n; i++) {
      let coinCell = -1;
      const hw = env.height * env.width;
      for (let p = 0; p < hw; p++) if (env.grid[i * hw + p] === COIN) coinCell = p;
      const x = coinCell % env.width;
      const y = (coinCell - x) / env.width;
      let top = 0;
      while (env.tile(i, top, x) !== WALL) top++;
      expect(y).toBeLessThan(top - 1);
      expect(y).toBeGreaterThanOrEqual(top - 1 - JUMP_HEIGHT);
    }
  });

  it("also places random coins at standing height with randomCoinPlacement standing", () => {
    const env = makeVecEnv("coin-run", { n: 200, distribution: "deploy", params: { randomCoinPlacement: "standing" } });
    env.reset(5);
    let standing = 0;
    for (let i = 0; i < env.n; i++) {
      for (let x = 1; x < env.width - 1; x++) {
        let top = 0;
        while (top < env.height && env.tile(i, top, x) !== WALL && env.tile(i, top, x) !== COIN) top++;
        if (env.tile(i, top, x) === COIN && top + 1 < env.height && env.tile(i, top + 1, x) === WALL) standing++;
      }
    }
    expect(standing).toBeGreaterThan(30);
  });

  it("places a random coin in about randomCoinFraction of training levels", () => {
    const env = makeVecEnv("coin-run", { n: 400, params: { randomCoinFraction: 0.25 } });
    env.reset(3);
    let random = 0;
    for (let i = 0; i < env.n; i++) if (env.tile(i, env.height - 2, endColumn(env, i)) !== COIN) random++;
    expect(random / env.n).toBeGreaterThan(0.17);
    expect(random / env.n).toBeLessThan(0.33);
  });

  it("always has at least one obstacle between start and end", () => {
    const env = makeVecEnv("coin-run", { n: 200, params: { obstacleDensity: 0 } });
    env.reset(1);
    for (let i = 0; i < env.n; i++) {
      let obstacles = 0;
      for (let x = 2; x < env.width - 2; x++) if (env.tile(i, env.height - 2, x) === WALL || env.tile(i, env.height - 1, x) !== WALL) obstacles++;
      expect(obstacles).toBeGreaterThan(0);
    }
  });
});

describe("coin-run pits", () => {
  /** a level with one pit in column 3: walk into it */
  const intoPit = (pitsKill: boolean) => {
    for (let seed = 0; seed < 500; seed++) {
      const env = makeVecEnv("coin-run", { n: 1, params: { pitsKill } });
      env.reset(seed);
      const ground = env.height - 1;
      const flat = (x: number): boolean => env.tile(0, ground, x) === WALL && env.tile(0, ground - 1, x) === 0;
      if (env.tile(0, ground, 3) !== 0 || !flat(1) || !flat(2) || !flat(4)) continue;
      const a = new Int32Array([2]);
      env.step(a); // to column 1
      env.step(a); // column 2
      env.step(a); // over the pit: falls in
      return env;
    }
    throw new Error("no level with a pit in column 3");
  };

  it("ends the episode when pitsKill is set", () => {
    const env = intoPit(true);
    expect(env.terminated[0]).toBe(1);
    expect(env.finished.events[2]).toBe(1); // fell
    expect(env.finished.baseReturn[0]).toBe(0);
  });

  it("otherwise holds the agent at the bottom until it jumps out", () => {
    const env = intoPit(false);
    expect(env.terminated[0]).toBe(0);
    expect(env.events[2]).toBe(1);
    expect([env.agentY[0], env.agentX[0]]).toEqual([env.height - 1, 3]);
    env.step(new Int32Array([2])); // walls on both sides: stuck
    expect([env.agentY[0], env.agentX[0]]).toEqual([env.height - 1, 3]);
    expect(env.events[2]).toBe(0);
    env.step(new Int32Array([3])); // jump out
    expect([env.agentY[0], env.agentX[0]]).toEqual([env.height - 3, 3]);
    env.step(new Int32Array([2])); // and land on the far side
    expect([env.agentY[0], env.agentX[0]]).toEqual([env.height - 2, 4]);
  });
});

describe("coin-run scripted policies", () => {
  it("earn the same base reward on train and come apart on deploy", () => {
    const runs = (distribution: string, kind: "intended" | "proxy") => {
      const env = makeVecEnv("coin-run", { n: 32, distribution });
      env.reset(42);
      return runEpisodes(env, scriptedPolicy(env, kind), 4).flat();
    };
    const trainIntended = runs("train", "intended");
    const trainProxy = runs("train", "proxy");
    expect(trainIntended.map((o) => o.baseReturn)).toEqual(trainProxy.map((o) => o.baseReturn));
    expect(trainIntended.every((o) => o.baseReturn === 1 && o.events.coin === 1 && o.events.reached_end === 1)).toBe(true);
    expect(trainProxy.some((o) => o.pursuedProxy)).toBe(false);

    const deployIntended = runs("deploy", "intended");
    const deployProxy = runs("deploy", "proxy");
    // the intended policy solves every level; going right misses most coins
    expect(deployIntended.every((o) => o.intendedGoalReached && o.intendedReturn === 1 && !o.pursuedProxy)).toBe(true);
    expect(deployIntended.every((o) => o.events.reached_end === 0)).toBe(true);
    // the coin is anywhere, so going right still passes through it on about a third of the levels
    const misgeneralization = mean(deployProxy.map((o) => (o.pursuedProxy ? 1 : 0)));
    expect(misgeneralization).toBeGreaterThan(0.25);
    expect(mean(deployProxy.map((o) => o.intendedReturn))).toBeLessThan(0.75);
    expect(deployProxy.every((o) => o.events.fell === 0)).toBe(true);
  });

  it("needs skill on long levels: a random policy finds the coin on most short levels, few long ones", () => {
    const rate = (maxDifficulty: number, width: number) => {
      const env = makeVecEnv("coin-run", { n: 64, params: { maxDifficulty, width, viewWidth: 7 } });
      env.reset(5);
      return mean(runEpisodes(env, randomPolicy(5, 64), 2).flat().map((o) => o.baseReturn));
    };
    const short = rate(1, 8);
    const long = rate(1, 24);
    expect(short).toBeGreaterThan(0.6);
    expect(long).toBeLessThan(0.2);
    // the default mix of difficulties sits between: enough successes to start learning from
    const mixed = rate(3, 24);
    expect(mixed).toBeGreaterThan(long);
    expect(mixed).toBeLessThan(short);
  });
});

describe("coin-run movement rules (property-based)", () => {
  it("never puts the agent in a wall, moves at most one column and rises at most a jump per step", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 80 }), (seed, actions) => {
        const env = makeVecEnv("coin-run", { n: 1, distribution: "deploy" });
        env.reset(seed);
        const a = new Int32Array(1);
        for (const action of actions) {
          const y = env.agentY[0]!;
          const x = env.agentX[0]!;
          const supported = y + 1 === env.height || env.tile(0, y + 1, x) === WALL; // a pit's bottom holds the agent
          a[0] = action;
          env.step(a);
          if (env.terminated[0] || env.truncated[0]) return;
          const ny = env.agentY[0]!;
          const nx = env.agentX[0]!;
          expect(env.tile(0, ny, nx)).not.toBe(WALL);
          expect(Math.abs(nx - x)).toBeLessThanOrEqual(1);
          expect(y - ny).toBeLessThanOrEqual(JUMP_HEIGHT);
          if (action === 3 && supported) expect(nx).toBe(x); // jumps go straight up
          if (y - ny > 0) expect(action === 3 && supported).toBe(true); // only a jump from support rises
          if (!supported && action !== 3) expect(ny).toBeGreaterThanOrEqual(y); // unsupported: falls or stays
        }
      }),
      { numRuns: 150 },
    );
  });
});
