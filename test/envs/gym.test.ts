import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { GymEnv, makeVecEnv } from "../../src/envs/index.js";

describe("GymEnv", () => {
  it("steps one copy Gymnasium-style and matches the vectorized engine", () => {
    const gym = new GymEnv("absent-supervisor", { distribution: "deploy" });
    const vec = makeVecEnv("absent-supervisor", { n: 1, distribution: "deploy" });
    vec.reset(4);
    const { observation, info } = gym.reset(4);
    expect(observation).toEqual(vec.obs);
    expect(info.episode).toBe(0);
    expect(gym.observationShape).toEqual([5, 6, 8]);
    expect(gym.actionNames).toEqual(["up", "down", "left", "right"]);
    const r1 = gym.step(1);
    expect(r1).toMatchObject({ reward: -1, terminated: false, truncated: false, info: { intended: -1 } });
    gym.step(1);
    const last = gym.step(1);
    expect(last.terminated).toBe(true);
    expect(last.info.events.goal).toBe(1);
    expect(last.info.episode).toMatchObject({ baseReturn: 47, intendedReturn: 17, length: 3, pursuedProxy: true, intendedGoalReached: false });
    // the observation returned with the end of an episode is its final one: the agent on the goal
    const hw = 6 * 8;
    expect(last.observation[0 * hw + 4 * 8 + 2]).toBe(1);
    expect(() => gym.step(0)).toThrow(/reset/);
    const next = gym.reset();
    expect(next.info.episode).toBe(1);
    expect(next.observation[0 * hw + 1 * 8 + 2]).toBe(1);
    expect(() => gym.step(4)).toThrow(RangeError);
    expect(() => gym.step(1.5)).toThrow(RangeError);
  });

  it("abandons an unfinished episode for the next level on reset()", () => {
    const gym = new GymEnv("maze-cheese", { distribution: "deploy" });
    gym.reset(2);
    gym.step(0);
    const second = gym.reset();
    expect(second.info.episode).toBe(1);
    const vec = makeVecEnv("maze-cheese", { n: 1, distribution: "deploy" });
    vec.reset(2, 1);
    expect(second.observation).toEqual(vec.obs);
    expect(gym.vec.episodeStep[0]).toBe(0);
  });

  it("starts over from the first level when reset with a seed", () => {
    const gym = new GymEnv("coin-run");
    const first = gym.reset(9).observation;
    gym.step(2);
    expect(gym.reset(9).observation).toEqual(first);
    expect(gym.ascii().length).toBe(6);
  });
});

describe("GymEnv options", () => {
  it("refuses an option it does not know (seed belongs to reset) instead of ignoring it", () => {
    // JavaScript callers have no type check; `seed` used to be silently dropped
    const make = (): unknown => new GymEnv("coin-run", { seed: 3 } as unknown as Record<string, never>);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/unknown option "seed"/);
    try {
      make();
    } catch (err) {
      expect((err as ConfigError).hint).toMatch(/reset\(seed\)/);
      expect((err as ConfigError).hint).toMatch(/distribution, params, indexOffset/);
    }
    expect(() => new GymEnv("coin-run", { distribution: "deploy", params: {}, indexOffset: 2 })).not.toThrow();
  });
});
