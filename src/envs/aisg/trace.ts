/**
 * Step-by-step traces of the AI Safety Gridworlds ports, in the original's terms: the board after each step
 * (the original's characters after its repainter), the reward, the cumulative hidden reward, whether the
 * episode ended and why, and the episode's performance. With `seed`, draws follow np.random.seed(seed) in the
 * original, so `mesa trace` output can be compared with the original line for line.
 *
 * Episodes follow each other as the original's environment does when reset after its last step: when an
 * episode ends and actions remain, the next action is the first of a new episode (no action is swallowed).
 */
import { ConfigError } from "../../core/errors.js";
import { VecEnv } from "../engine.js";
import { environments } from "../registry.js";
import { boardRows, camelOption, isAisg, type AisgDefinition } from "./common.js";

export interface TraceStep {
  /** 1-based step count over the whole trace */
  t: number;
  episode: number;
  action: number;
  board: string[];
  reward: number;
  /** the episode's hidden reward so far; null while the original has none (it reports None) */
  hidden_reward: number | null;
  done: boolean;
  /** on the last step of an episode: "terminated" (the game ended it) or "max_steps" */
  reason?: "terminated" | "max_steps";
  /** on the last step of an episode: the original's episode performance */
  performance?: number;
}

export interface TraceEpisode {
  /** board before the episode's first action */
  initial_board: string[];
  /** the random outcomes this episode drew or took from options */
  drawn: Record<string, unknown>;
  steps: number;
  return: number;
  performance: number | null;
}

export interface Trace {
  format: "mesa-aisg-trace/1";
  env: string;
  original: string;
  options: Record<string, unknown>;
  seed: number;
  action_names: readonly string[];
  actions: number[];
  episodes: TraceEpisode[];
  steps: TraceStep[];
  /** performance of the last finished episode (null if none finished) */
  performance: number | null;
  /** mean performance over finished episodes (the original's get_overall_performance) */
  overall_performance: number | null;
}

/** The names of the ported environments. */
export function aisgNames(): string[] {
  return Object.keys(environments).filter((k) => isAisg(environments[k]!));
}

/** The port registered under `name`, or a ConfigError listing the ports. */
export function getAisgDefinition(name: string): AisgDefinition {
  const def = environments[name];
  if (def === undefined || !isAisg(def)) {
    throw new ConfigError(`unknown AI Safety Gridworlds environment "${name}"`, `choose one of: ${aisgNames().join(", ")}`);
  }
  return def;
}

/**
 * Options as a user of the original writes them (snake_case, e.g. interruption_probability=0.3) or as our
 * parameters are named (interruptionProbability); unknown names raise a ConfigError listing the valid ones.
 */
export function aisgParams(def: AisgDefinition, options: Record<string, unknown>): Record<string, unknown> {
  const valid = Object.keys(def.params.shape).filter((k) => k !== "numpySeed");
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const name = camelOption(key);
    if (name === "numpySeed") throw new ConfigError(`option "${key}" is set by the seed`, "pass --seed N instead");
    if (!valid.includes(name)) {
      throw new ConfigError(`${def.name} has no option "${key}"`, `valid options: ${valid.join(", ")} (the original's snake_case spellings work too)`);
    }
    out[name] = value;
  }
  return out;
}

export interface TraceRequest {
  actions: readonly number[];
  /** np.random.seed of the original (default 0) */
  seed?: number;
  options?: Record<string, unknown>;
}

/** Plays `actions` on one copy of the port, drawing as the original does after np.random.seed(seed). */
export function traceAisg(name: string, request: TraceRequest): Trace {
  const def = getAisgDefinition(name);
  const seed = request.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
    throw new ConfigError(`seed must be an integer in [0, 2^32 - 1] (numpy's range), got ${seed}`, "e.g. --seed 7");
  }
  const options = request.options ?? {};
  const params = { ...aisgParams(def, options), numpySeed: seed };
  const env = new VecEnv(def, { n: 1, distribution: "train", params });
  const names = env.actionNames;
  request.actions.forEach((a, k) => {
    if (!Number.isInteger(a) || a < 0 || a >= names.length) {
      throw new ConfigError(
        `action ${a} (position ${k + 1}) is outside ${name}'s action set`,
        `actions are ${names.map((n, j) => `${j}=${n}`).join(", ")}`,
      );
    }
  });
  env.reset(0);
  const s = env.state as Parameters<typeof def.aisg.drawn>[0];
  const repaint = def.aisg.repaint;
  const performanceOf = (): number =>
    def.aisg.performance === "return" ? s.finalReturn[0]! : s.finalHiddenSet[0] === 1 ? s.finalHidden[0]! : 0;
  const episodes: TraceEpisode[] = [];
  const open = (): TraceEpisode => {
    const e: TraceEpisode = { initial_board: boardRows(env, s, 0, repaint), drawn: def.aisg.drawn(s, 0, env.params), steps: 0, return: 0, performance: null };
    episodes.push(e);
    return e;
  };
  let episode = open();
  const steps: TraceStep[] = [];
  const one = new Int32Array(1);
  request.actions.forEach((a, k) => {
    one[0] = a;
    env.step(one);
    const done = (env.terminated[0]! | env.truncated[0]!) === 1;
    const reward = s.stepReward[0]!;
    const step: TraceStep = {
      t: k + 1,
      episode: episodes.length - 1,
      action: a,
      board: boardRows(env, s, 0, repaint, done),
      reward,
      hidden_reward: done ? (s.finalHiddenSet[0] === 1 ? s.finalHidden[0]! : null) : s.hiddenSet[0] === 1 ? s.hidden[0]! : null,
      done,
    };
    episode.steps++;
    if (done) {
      step.reason = env.terminated[0] === 1 ? "terminated" : "max_steps";
      step.performance = performanceOf();
      episode.return = s.finalReturn[0]!;
      episode.performance = step.performance;
      if (k + 1 < request.actions.length) episode = open();
    } else {
      episode.return = s.episodeReturn[0]!;
    }
    steps.push(step);
  });
  const finished = episodes.filter((e) => e.performance !== null).map((e) => e.performance!);
  return {
    format: "mesa-aisg-trace/1",
    env: name,
    original: def.aisg.original,
    options: { ...options },
    seed,
    action_names: names,
    actions: [...request.actions],
    episodes,
    steps,
    performance: finished.length ? finished[finished.length - 1]! : null,
    overall_performance: finished.length ? finished.reduce((a, b) => a + b, 0) / finished.length : null,
  };
}
