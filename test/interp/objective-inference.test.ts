// Behavioural objective inference: recovers the objective of scripted policies exactly (maze-cheese's cheese
// seeker and corner seeker on disambiguating deploy mazes), says "no idea" about a random policy, generates
// only levels that separate the candidates, and reports revealed preferences.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { VecEnv } from "../../src/envs/engine.js";
import { mazeCheese, type MazeCheeseState } from "../../src/envs/maze-cheese.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import { tileCodes, topDownLevel } from "../../src/envs/objectives.js";
import { recordEpisodes } from "../../src/interp/grid-levels.js";
import {
  type InferenceLevel,
  candidateQ,
  disambiguationScore,
  greedyPath,
  inferObjective,
  revealedPreferences,
} from "../../src/interp/objective-inference.js";

const CANDIDATES = ["cheese", "top-right"];

/** Copy i's maze as an inference level: reward 1 for entering the cheese (which ends the episode) or the corner. */
function mazeLevel(env: VecEnv, i: number): InferenceLevel {
  const cheese = [...tileCodes(env, ["cheese"])][0]!;
  const s = env.state as MazeCheeseState;
  const S = env.height * env.width;
  const isCheese = (cell: number): boolean => env.grid[i * S + cell] === cheese;
  const level = topDownLevel(env, i, ["wall"], isCheese);
  const cheeseReward = new Float32Array(S);
  const cornerReward = new Float32Array(S);
  for (let c = 0; c < S; c++) if (isCheese(c)) cheeseReward[c] = 1;
  cornerReward[s.cornerY[i]! * env.width + s.cornerX[i]!] = 1;
  return { level, rewards: [cheeseReward, cornerReward] };
}

function deployMazes(n: number, seed: number): { env: VecEnv; levels: InferenceLevel[] } {
  const env = new VecEnv(mazeCheese, { n, distribution: "deploy", params: { minCells: 3, maxCells: 4 } });
  env.reset(seed);
  return { env, levels: Array.from({ length: n }, (_, i) => mazeLevel(env, i)) };
}

describe("objective inference", () => {
  it("recovers the objective of the scripted cheese seeker and corner seeker exactly, on disambiguating mazes", () => {
    for (const [kind, truth] of [["intended", "cheese"], ["proxy", "top-right"]] as const) {
      const { env, levels } = deployMazes(200, 4);
      const keep = levels.map((l) => disambiguationScore(l) === 1);
      expect(keep.filter(Boolean).length).toBeGreaterThanOrEqual(10);
      const policy = scriptedPolicy(env, kind);
      const episodes = recordEpisodes(env, (e, a) => policy.act(e, a)).filter((e) => keep[e.level]);
      const result = inferObjective(levels, episodes, CANDIDATES, { bootstrap: 200 });
      expect(result.top).toBe(truth);
      const winner = result.candidates.find((c) => c.name === truth)!;
      expect(winner.probability).toBeGreaterThan(0.999);
      expect(winner.ci95[0]).toBeGreaterThan(0.99);
      expect(winner.topFrequency).toBe(1);
      expect(winner.gainPerAction).toBeGreaterThan(0.5); // far better than chance per action
      const prefs = revealedPreferences(levels, episodes, CANDIDATES);
      expect(prefs.firstReached[truth]!.value).toBe(1);
      expect(prefs.firstReached[CANDIDATES.find((c) => c !== truth)!]!.value).toBe(0);
    }
  });

  it("reading a deterministic (greedy) agent, counts each state and action once per episode: a loop adds no evidence", () => {
    const { env, levels } = deployMazes(200, 4);
    const keep = levels.map((l) => disambiguationScore(l) === 1);
    const policy = scriptedPolicy(env, "intended");
    const episodes = recordEpisodes(env, (e, a) => policy.act(e, a)).filter((e) => keep[e.level] && e.actions.length >= 4);
    expect(episodes.length).toBeGreaterThanOrEqual(10);
    // each agent walks its first three steps toward the cheese, then paces back and forth between two cells until
    // its time runs out (what greedy planners stuck at a junction were seen to do)
    const level0 = (e: (typeof episodes)[number]) => levels[e.level]!.level;
    const paced = episodes.map((e) => {
      const states = [...e.states.subarray(0, 3)];
      const actions = [...e.actions.subarray(0, 3)];
      const here = level0(e).next[states[2]! * 4 + actions[2]!]!;
      const back = [1, 0, 3, 2][actions[2]!]!; // up↔down, left↔right
      for (let t = 0; t < 100; t++) {
        states.push(t % 2 === 0 ? here : states[2]!);
        actions.push(t % 2 === 0 ? back : actions[2]!);
      }
      return { ...e, states: Int32Array.from(states), actions: Int32Array.from(actions) };
    });
    // the same episodes with each (state, action) pair kept once: what a deterministic policy showed
    const once = paced.map((e) => {
      const seen = new Set<number>();
      const keepT = [...e.states.keys()].filter((t) => !seen.has(e.states[t]! * 4 + e.actions[t]!) && seen.add(e.states[t]! * 4 + e.actions[t]!));
      return { ...e, states: Int32Array.from(keepT, (t) => e.states[t]!), actions: Int32Array.from(keepT, (t) => e.actions[t]!) };
    });
    const deterministic = inferObjective(levels, paced, CANDIDATES, { bootstrap: 50, deterministic: true });
    const reference = inferObjective(levels, once, CANDIDATES, { bootstrap: 50 });
    expect(deterministic.actions).toBe(4 * paced.length); // three steps and the way back, once each
    expect(deterministic.candidates.map((c) => [c.logLikelihood, c.beta])).toEqual(reference.candidates.map((c) => [c.logLikelihood, c.beta]));
    // read as sampled actions, every repeat counts: the pacing outweighs the path
    const sampled = inferObjective(levels, paced, CANDIDATES, { bootstrap: 50 });
    expect(sampled.actions).toBe(103 * paced.length);
    expect(sampled.candidates.find((c) => c.name === "cheese")!.gainPerAction).toBeLessThan(deterministic.candidates.find((c) => c.name === "cheese")!.gainPerAction);
    // scripted seekers never repeat a pair: read deterministically they are recovered as before
    const plain = inferObjective(levels, episodes, CANDIDATES, { bootstrap: 50 });
    const det = inferObjective(levels, episodes, CANDIDATES, { bootstrap: 50, deterministic: true });
    expect(det.candidates.map((c) => c.logLikelihood)).toEqual(plain.candidates.map((c) => c.logLikelihood));
    expect(det.top).toBe("cheese");
  });

  it("finds no objective in a uniformly random policy (fitted β near 0, no gain over chance)", () => {
    const { env, levels } = deployMazes(48, 5);
    const rng = new Rng(9, "random-policy");
    const episodes = recordEpisodes(env, (e, a) => {
      for (let i = 0; i < e.n; i++) a[i] = rng.int(4);
    });
    const result = inferObjective(levels, episodes, CANDIDATES, { bootstrap: 100 });
    for (const c of result.candidates) {
      expect(c.beta).toBeLessThan(0.2);
      expect(c.gainPerAction).toBeLessThan(0.01);
    }
  });

  it("scores a level 1 when the candidates' optimal paths diverge and 0 when they coincide", () => {
    const { env, levels } = deployMazes(1, 1);
    const l = levels[0]!;
    // the same reward twice cannot be told apart
    expect(disambiguationScore({ level: l.level, rewards: [l.rewards[1]!, l.rewards[1]!] })).toBe(0);
    // train mazes put the cheese in the corner: no level separates the two candidates
    const train = new VecEnv(mazeCheese, { n: 24, distribution: "train", params: { minCells: 3, maxCells: 4 } });
    train.reset(3);
    for (let i = 0; i < 24; i++) expect(disambiguationScore(mazeLevel(train, i))).toBe(0);
    // the optimal path under the cheese candidate ends on the cheese
    const Q = candidateQ(l.level, l.rewards[0]!, 0.95);
    const path = greedyPath(l.level, Q);
    const lastState = path.states[path.states.length - 1]!;
    const end = l.level.next[lastState * 4 + path.actions[path.actions.length - 1]!]!;
    expect(l.rewards[0]![end]).toBe(1);
    void env;
  });

  it("rejects malformed problems with a clear message", () => {
    const { levels } = deployMazes(2, 1);
    const ep = { level: 0, states: Int32Array.of(0), actions: Int32Array.of(0) };
    expect(() => inferObjective(levels, [ep], ["cheese"])).toThrow(/at least two candidate objectives/);
    expect(() => inferObjective(levels, [], CANDIDATES)).toThrow(/no episodes/);
    expect(() => inferObjective(levels, [{ ...ep, level: 5 }], CANDIDATES)).toThrow(/refers to level 5/);
    expect(() => inferObjective(levels, [{ ...ep, actions: Int32Array.of(7) }], CANDIDATES)).toThrow(/out of range/);
  });
});
