// A Gymnasium-style single environment on top of the vectorized engine, for agents that act one step at a
// time: reset() → observation, step(action) → observation, reward, terminated, truncated, info.
import type { EpisodeStats, VecEnvOptions } from "./engine.js";
import type { VecEnv } from "./engine.js";
import { ConfigError } from "../core/errors.js";
import { makeVecEnv } from "./make.js";

export interface GymStepResult {
  /** [C, h, w] observation (a copy); after the episode ends, its final observation */
  observation: Float32Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: {
    /** the designer's reward for this step (not for training) */
    intended: number;
    /** events of this step by name (zero counts included) */
    events: Record<string, number>;
    /** totals and outcome of the episode, when it ended at this step */
    episode?: EpisodeStats & { pursuedProxy: boolean; intendedGoalReached: boolean };
  };
}

/** The options GymEnv accepts (VecEnv's, without the number of copies). */
export const GYM_OPTIONS = ["distribution", "params", "indexOffset"] as const satisfies readonly (keyof Omit<VecEnvOptions, "n">)[];
// a VecEnv option added without listing it above fails to compile here (instead of being refused at run time)
type UnlistedGymOption = Exclude<keyof Omit<VecEnvOptions, "n">, (typeof GYM_OPTIONS)[number]>;
const everyOptionListed: [UnlistedGymOption] extends [never] ? true : UnlistedGymOption = true;
void everyOptionListed;

/**
 * One copy of an environment with Gymnasium's calling convention. Unlike the vectorized engine it does not
 * hand out the next episode's observation on the step that ends one: call reset() to start the next episode
 * (reset() without a seed continues with the next level of the current seed).
 */
export class GymEnv {
  readonly vec: VecEnv;
  private readonly action = new Int32Array(1);
  private needsReset = true;
  private started = false;

  constructor(name: string, options: Omit<VecEnvOptions, "n"> = {}) {
    // JavaScript callers get no type check: an option this class does not know (a seed here, a typo) is refused
    // rather than ignored
    const unknown = Object.keys(options ?? {}).filter((k) => !(GYM_OPTIONS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      const seedHint = unknown.includes("seed") ? "the seed goes to reset(seed); " : "";
      throw new ConfigError(
        `GymEnv("${name}"): unknown option${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => `"${k}"`).join(", ")}`,
        `${seedHint}valid options: ${GYM_OPTIONS.join(", ")}`,
      );
    }
    this.vec = makeVecEnv(name, { ...options, n: 1 });
  }

  get actionNames(): readonly string[] {
    return this.vec.actionNames;
  }

  get observationShape(): [number, number, number] {
    return this.vec.obsShape;
  }

  /** Starts an episode: with a seed, the first level of that seed; without, the next level. */
  reset(seed?: number): { observation: Float32Array; info: { episode: number } } {
    if (seed !== undefined || !this.started) {
      this.vec.reset(seed ?? 0);
      this.started = true;
    } else if (!this.needsReset) {
      // mid-episode: abandon it for the next level
      this.vec.startEpisode(0);
    }
    // after an episode ended, the engine already drew the next level (auto-reset)
    this.needsReset = false;
    return { observation: this.vec.obs.slice(), info: { episode: this.vec.episode[0]! } };
  }

  step(action: number): GymStepResult {
    if (this.needsReset) throw new Error(`${this.vec.def.name}: call reset() before step() (the episode has ended or not started)`);
    if (!Number.isInteger(action)) throw new RangeError(`${this.vec.def.name}: action ${action} at env index 0 is not an integer`);
    this.action[0] = action;
    this.vec.step(this.action);
    const v = this.vec;
    const events: Record<string, number> = {};
    v.eventNames.forEach((name, e) => (events[name] = v.events[e]!));
    const terminated = v.terminated[0] === 1;
    const truncated = v.truncated[0] === 1;
    const result: GymStepResult = {
      observation: terminated || truncated ? v.finalObs.slice() : v.obs.slice(),
      reward: v.reward[0]!,
      terminated,
      truncated,
      info: { intended: v.intended[0]!, events },
    };
    if (terminated || truncated) {
      this.needsReset = true;
      result.info.episode = { ...v.finishedStats(0), pursuedProxy: v.finished.pursuedProxy[0] === 1, intendedGoalReached: v.finished.intendedGoalReached[0] === 1 };
    }
    return result;
  }

  /** the current level as ASCII rows */
  ascii(): string[] {
    return this.vec.ascii(0);
  }
}
