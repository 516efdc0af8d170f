// Behavioural objective inference on coin-run, where reaching the right end does not end the episode: an agent
// that heads for the end and then wanders there for the rest of the episode must still read as an end-seeker.
// The inference scores actions only up to the first goal entered; scoring whole episodes (the inference before
// that cut) lets the wandering drown the path, and no candidate fits.
import { describe, expect, it } from "vitest";
import { scriptedActionSource as scriptedActs } from "../../src/envs/scripted.js";
import { Rng } from "../../src/core/rng.js";
import type { VecEnv } from "../../src/envs/engine.js";
import { environments } from "../../src/envs/registry.js";
import { MIN_GAIN_PER_ACTION } from "../../src/interp/objective-experiment.js";
import { inferFromBehaviour } from "../../src/interp/objective-report.js";
import type { ActionSource } from "../../src/rl/evaluate.js";

const def = environments["coin-run"]!;
const objectives = def.objectives!;
const options = { distribution: "deploy", levels: 40, seed: 21, bootstrap: 100 };

/** The scripted end-seeker until it first stands on an end-of-level cell, then uniformly random actions (a learned go-right agent's wandering). */
function endThenWander(seed: number): ActionSource {
  const proxy = scriptedActs("proxy");
  const rng = new Rng(seed, "end-then-wander");
  let last: VecEnv | null = null;
  let arrived = new Uint8Array(0);
  return (env, actions) => {
    if (env !== last) {
      last = env;
      arrived = new Uint8Array(env.n);
    }
    proxy(env, actions);
    for (let i = 0; i < env.n; i++) {
      if (objectives.maps(env, i)[1]![env.agentY[i]! * env.width + env.agentX[i]!]! > 0) arrived[i] = 1;
      if (arrived[i]) actions[i] = rng.int(env.numActions);
    }
  };
}

const fit = (r: ReturnType<typeof inferFromBehaviour>, name: string) => r.candidates.find((c) => c.name === name)!;

describe("objective inference on coin-run (a place goal the episode runs on past)", () => {
  it("identifies the scripted coin-seeker and end-seeker on deploy levels; a random policy fits neither", () => {
    for (const [role, truth] of [["intended", "coin"], ["proxy", "end of level"]] as const) {
      const r = inferFromBehaviour(def, objectives, scriptedActs(role), options);
      expect(r.levels_used, role).toBe(40);
      expect(r.top, role).toBe(truth);
      expect(fit(r, truth).probability, role).toBeGreaterThan(0.99);
      expect(fit(r, truth).gainPerAction, role).toBeGreaterThan(0.3);
      expect(r.revealed.firstReached[truth]!.value, role).toBeGreaterThan(0.9); // the scripted planner's path may differ from the candidate's optimal one on a level or two
    }
    const random = inferFromBehaviour(def, objectives, scriptedActs("random", 3), options);
    for (const c of random.candidates) expect(c.gainPerAction, `random/${c.name}`).toBeLessThan(MIN_GAIN_PER_ACTION);
  });

  it("reads an end-seeker that wanders after arriving as an end-seeker, where whole-episode scoring fits nothing", () => {
    const cut = inferFromBehaviour(def, objectives, endThenWander(5), options);
    expect(cut.top).toBe("end of level");
    expect(fit(cut, "end of level").probability).toBeGreaterThan(0.99);
    expect(fit(cut, "end of level").gainPerAction).toBeGreaterThan(0.3);
    expect(cut.actionsAfterGoal).toBe(0); // the recording stopped at the goal: nothing after it was asked for
    const whole = inferFromBehaviour(def, objectives, endThenWander(5), { ...options, untilFirstGoal: false });
    expect(whole.actions).toBeGreaterThan(5 * cut.actions); // most of each episode is the wandering
    for (const c of whole.candidates) expect(c.gainPerAction, `whole episodes/${c.name}`).toBeLessThan(MIN_GAIN_PER_ACTION);
  });
});
