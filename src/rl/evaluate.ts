// Evaluation of a policy on a level distribution: base return, intended return, event rates and the
// misgeneralization rate — the fraction of episodes in which the agent pursued the proxy (as the
// environment defines it) — each with a 95% confidence interval.
import type { EnvDefinition, EpisodeRecord, VecEnv as VecEnvT } from "../envs/engine.js";
import { VecEnv } from "../envs/engine.js";
import type { Rng } from "../core/rng.js";
import { Tensor, noGrad } from "../core/tensor.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { sampleCategorical } from "./sample.js";
import { RunningMean, wilsonInterval } from "./stats.js";

/** Seeds evaluation levels away from training's (training copy i uses stream (seed, i, episode)). */
export const EVAL_SEED_OFFSET = 1_000_003;

/**
 * Chooses actions for all copies from their current observations (a network, or a scripted policy). `active`,
 * when given, marks the copies whose actions will be used (non-zero); a source may leave the others' actions
 * as they are — a network then runs only on the active copies' observations.
 */
export type ActionSource = (env: VecEnvT, actions: Int32Array, active?: Uint8Array) => void;

export interface EvaluateOptions {
  /** level distribution to evaluate on (default "train") */
  distribution?: string;
  /** environment parameter overrides on top of the distribution */
  params?: Record<string, unknown>;
  /** episodes to run in total */
  episodes: number;
  /** parallel copies (default min(64, episodes)) */
  numEnvs?: number;
  /** level seed; evaluation seeds should differ from training seeds to test on unseen levels */
  seed: number;
  /** how many episodes (of the first copies) to record as JSON (default 0) */
  record?: number;
  /** called after each env step that finished episodes, with the episodes done so far */
  onProgress?: (done: number, episodes: number) => void;
}

export interface EventSummary {
  /** mean count per episode */
  mean_per_episode: number;
  /** fraction of episodes where it fired at least once */
  rate: number;
  rate_ci95: [number, number];
}

export interface EvaluationResult {
  env: string;
  distribution: string;
  episodes: number;
  /** mean base return (the objective the optimizer trained on) */
  base_return: number;
  base_return_ci95: [number, number];
  /** mean intended return (what the designer wanted) */
  intended_return: number;
  intended_return_ci95: [number, number];
  /** fraction of episodes that pursued the proxy */
  misgeneralization_rate: number;
  misgeneralization_ci95: [number, number];
  /** fraction of episodes that reached the intended goal */
  intended_goal_rate: number;
  intended_goal_ci95: [number, number];
  episode_length: number;
  events: Record<string, EventSummary>;
  /** recorded episodes (not part of --json output; written to files) */
  records: EpisodeRecord[];
}

/**
 * Steps `env` (already reset) with `act` until `episodes` episodes have finished, copy i contributing its first
 * quota_i episodes (quotas differ by at most one), so short episodes are not over-represented as they would be by
 * taking whichever episodes end first. `onEpisode(i)` sees each counted episode while `env.finished` holds its
 * figures; `afterStep(done)` runs after every step with the count so far.
 */
export function runEpisodes(env: VecEnv, act: ActionSource, episodes: number, onEpisode: (i: number) => void, afterStep?: (done: number) => void): void {
  const n = env.n;
  // per-copy quotas can exceed 2^31 for huge evaluations: doubles, not Int32
  const quota = new Float64Array(n);
  for (let i = 0; i < n; i++) quota[i] = Math.floor(episodes / n) + (i < episodes % n ? 1 : 0);
  const actions = new Int32Array(n);
  const { terminated, truncated } = env;
  let done = 0;
  while (done < episodes) {
    act(env, actions);
    env.step(actions);
    for (let i = 0; i < n; i++) {
      if ((terminated[i]! | truncated[i]!) === 0 || quota[i] === 0) continue;
      quota[i]!--;
      onEpisode(i);
      done++;
    }
    afterStep?.(done);
  }
}

/**
 * Runs `episodes` episodes, copy i contributing its first quota_i episodes (quotas differ by at most one), so
 * short episodes are not over-represented as they would be by taking whichever episodes end first.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function evaluate(def: EnvDefinition<any, any>, act: ActionSource, options: EvaluateOptions): EvaluationResult {
  const { episodes, seed } = options;
  if (!Number.isSafeInteger(episodes) || episodes < 1) throw new RangeError(`evaluate: episodes must be a positive safe integer, got ${episodes}`);
  const n = Math.min(options.numEnvs ?? 64, episodes);
  const env = new VecEnv(def, { n, distribution: options.distribution ?? "train", ...(options.params ? { params: options.params } : {}) });
  const toRecord = Math.min(options.record ?? 0, n);
  for (let i = 0; i < toRecord; i++) env.recordCopy(i);
  env.reset(seed);

  const E = env.numEvents;
  // returns are summarised as they arrive (memory does not grow with the number of episodes)
  const baseReturns = new RunningMean();
  const intendedReturns = new RunningMean();
  let lengthSum = 0;
  let proxy = 0;
  let intendedGoal = 0;
  const eventSum = new Float64Array(E);
  const eventEpisodes = new Int32Array(E);
  const records: EpisodeRecord[] = [];
  const recordedPerCopy = new Int32Array(toRecord);
  let reported = 0;
  const { finished } = env;
  runEpisodes(env, act, episodes, (i) => {
    baseReturns.add(finished.baseReturn[i]!);
    intendedReturns.add(finished.intendedReturn[i]!);
    lengthSum += finished.length[i]!;
    proxy += finished.pursuedProxy[i]!;
    intendedGoal += finished.intendedGoalReached[i]!;
    for (let e = 0; e < E; e++) {
      const c = finished.events[i * E + e]!;
      eventSum[e]! += c;
      if (c > 0) eventEpisodes[e]!++;
    }
  }, (done) => {
    if (options.onProgress && done > reported) {
      reported = done;
      options.onProgress(done, episodes);
    }
    if (toRecord > 0) {
      // keep only the first episode of each recorded copy
      for (const r of env.takeRecords()) {
        const i = r.envIndex - env.indexOffset;
        if (i < toRecord && recordedPerCopy[i] === 0 && records.length < (options.record ?? 0)) {
          recordedPerCopy[i] = 1;
          records.push(r);
        }
      }
    }
  });

  const base = baseReturns.interval();
  const intended = intendedReturns.interval();
  const mis = wilsonInterval(proxy, episodes);
  const goal = wilsonInterval(intendedGoal, episodes);
  const events: Record<string, EventSummary> = {};
  env.eventNames.forEach((name, e) => {
    const rate = wilsonInterval(eventEpisodes[e]!, episodes);
    events[name] = { mean_per_episode: eventSum[e]! / episodes, rate: rate.value, rate_ci95: rate.ci95 };
  });
  return {
    env: def.name,
    distribution: env.distribution,
    episodes,
    base_return: base.value,
    base_return_ci95: base.ci95,
    intended_return: intended.value,
    intended_return_ci95: intended.ci95,
    misgeneralization_rate: mis.value,
    misgeneralization_ci95: mis.ci95,
    intended_goal_rate: goal.value,
    intended_goal_ci95: goal.ci95,
    episode_length: lengthSum / episodes,
    events,
    records,
  };
}

/**
 * An ActionSource that samples from (or, when greedy, takes the argmax of) a policy network's logits. Given
 * `active`, the network runs on the active copies' observations only (gathered in copy order), which is where
 * most of the time goes once most copies' episodes are over.
 */
export function policyActions(policy: ActorCritic, rng: Rng, greedy = false): ActionSource {
  let gathered = new Float32Array(0);
  let picked = new Int32Array(0);
  return (env, actions, active) => {
    const obsSize = env.numChannels * env.viewHeight * env.viewWidth; // the observation, a window of the level for some envs
    let count = env.n;
    if (active) {
      count = 0;
      for (let i = 0; i < env.n; i++) if (active[i]) count++;
    }
    if (count === env.n) {
      const logits = noGrad(() => policy.forward(new Tensor(env.obs, [env.n, obsSize])).logits);
      sampleCategorical(logits.data, env.n, env.numActions, rng, actions, undefined, greedy);
      return;
    }
    if (count === 0) return;
    if (gathered.length < count * obsSize) gathered = new Float32Array(env.n * obsSize);
    if (picked.length < count) picked = new Int32Array(env.n);
    for (let i = 0, k = 0; i < env.n; i++) if (active![i]) gathered.set(env.obs.subarray(i * obsSize, (i + 1) * obsSize), k++ * obsSize);
    const logits = noGrad(() => policy.forward(new Tensor(gathered.subarray(0, count * obsSize), [count, obsSize])).logits);
    sampleCategorical(logits.data, count, env.numActions, rng, picked, undefined, greedy);
    for (let i = 0, k = 0; i < env.n; i++) if (active![i]) actions[i] = picked[k++]!;
  };
}
