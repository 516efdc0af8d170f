// `mesa experiment objective-inference --env coin-run --seeds N`: the validation of behavioural objective
// inference against ground truth that can be read. Trains glass-box planner agents on the train levels with and
// without the cure (coin-run: randomCoinFraction 0 vs 0.3), reads each agent's objective from its reward map —
// the candidate whose goal cells it plans to be worth most, over deploy levels — and asks the behavioural
// inference, which sees only actions on disambiguating deploy levels, the same question. The agreement rate over
// agents (with its Wilson interval) is the figure; each agent's train return beside the scripted optimum says
// whether it learned its training task at all.
import { Rng } from "../core/rng.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { scriptedPolicy } from "../envs/scripted.js";
import { environments } from "../envs/registry.js";
import type { PlannerActorCritic } from "../nn/models/planner.js";
import { evaluate, policyActions } from "../rl/evaluate.js";
import type { PpoCallbacks } from "../rl/ppo.js";
import { startRun } from "../rl/run.js";
import { SOLVE_BUDGETS } from "../rl/solve.js";
import { type Estimate, wilsonInterval } from "../rl/stats.js";
import { envObjectives, inferFromBehaviour, scoreRewardMaps } from "./objective-report.js";

export interface ObjectiveExperimentOptions {
  env: string;
  seeds: number;
  /** env steps per training run */
  steps: number;
  /** the cure: a training-distribution parameter and its value (coin-run: randomCoinFraction 0.3) */
  cure: { param: string; value: unknown };
  /** env parameters for every run (on top of each distribution) */
  envParams: Record<string, unknown>;
  /** deploy levels the reward map is read on, and disambiguating levels for the inference */
  levels: number;
  /** evaluation episodes for train return and the scripted optimum */
  episodes: number;
  out: string;
  progress?: (label: string) => PpoCallbacks & { stop?(): void };
}

export interface AgentObjective {
  condition: string;
  seed: number;
  run_dir: string;
  /** intended return on train levels (sampling actions) and the scripted intended policy's, and their ratio */
  train_return: number;
  scripted_optimum: number;
  solved_ratio: number;
  /** the glass-box answer: the candidate whose goals the planner plans to be worth most on deploy levels */
  map_top: string;
  /** the raw reward map's favourite (mean map value at goal cells) */
  raw_map_top: string;
  planned_value: Record<string, number>;
  mean_value: Record<string, number>;
  /** the behavioural answer and its posterior */
  inferred_top: string;
  posterior: Record<string, number>;
  /** per-action log-likelihood gain of the inferred candidate over chance (≈ 0: behaviour explains nothing) */
  gain_per_action: number;
  /** whether the behaviour fits a candidate at all (gain ≥ MIN_GAIN_PER_ACTION); agents that fit none are reported apart */
  behaviour_fits: boolean;
  agree: boolean;
}

/** Below this per-action gain over chance (nats) the inference says no candidate explains the behaviour. */
export const MIN_GAIN_PER_ACTION = 0.05;

export interface ObjectiveExperimentResult {
  env: string;
  seeds: number;
  steps: number;
  agents: AgentObjective[];
  /** among agents whose behaviour fits a candidate, the fraction whose inferred objective is the reward map's */
  agreement: Estimate;
  /** agents whose behaviour fits no candidate (not counted in the agreement) */
  no_fit: number;
  /** per condition: how many agents' maps (and inferences) favour each candidate */
  conditions: Record<string, { map_top: Record<string, number>; inferred_top: Record<string, number>; mean_solved_ratio: number }>;
  seconds: number;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

export async function objectiveInferenceExperiment(o: ObjectiveExperimentOptions): Promise<ObjectiveExperimentResult> {
  const t0 = performance.now();
  const def: AnyEnvDefinition = environments[o.env]!;
  const objectives = envObjectives(def, environments);
  const names = objectives.candidates.map((c) => c.name);
  const tuned = SOLVE_BUDGETS[o.env]?.run.ppo ?? {};
  const conditions: [string, Record<string, unknown>][] = [
    ["train", { ...o.envParams }],
    [`${o.cure.param}=${String(o.cure.value)}`, { ...o.envParams, [o.cure.param]: o.cure.value }],
  ];
  const agents: AgentObjective[] = [];
  for (const [condition, params] of conditions) {
    for (let seed = 1; seed <= o.seeds; seed++) {
      const progress = o.progress?.(`${condition} seed ${seed}`);
      let trained;
      try {
        trained = await startRun(o.out, { env: o.env, distribution: "train", envParams: params, model: "planner", ppo: { ...tuned, totalTimesteps: o.steps, seed } }, progress ?? {});
      } finally {
        progress?.stop?.();
      }
      const policy = trained.policy as PlannerActorCritic;
      const evalSeed = 1_000_003 + seed;
      const agentEval = evaluate(def, policyActions(policy, new Rng(evalSeed, "objective-experiment/train")), { distribution: "train", params, episodes: o.episodes, seed: evalSeed });
      let scripted: ReturnType<typeof scriptedPolicy> | null = null;
      let scriptedEnv: VecEnv | null = null;
      const optimum = evaluate(def, (env, a) => {
        if (env !== scriptedEnv) {
          scripted = scriptedPolicy(env, "intended");
          scriptedEnv = env;
        }
        scripted!.act(env, a);
      }, { distribution: "train", params, episodes: o.episodes, seed: evalSeed });
      // the glass-box reading, on deploy levels
      const env = new VecEnv(def, { n: o.levels, distribution: "deploy", params: o.envParams });
      env.reset(evalSeed);
      const maps = scoreRewardMaps(policy, env, objectives, 0);
      let rawTop = 0;
      maps.candidates.forEach((c, k) => {
        if (c.mean_value.value > maps.candidates[rawTop]!.mean_value.value) rawTop = k;
      });
      // the behavioural reading, on disambiguating deploy levels
      const inferred = inferFromBehaviour(def, objectives, policyActions(policy, new Rng(evalSeed, "objective-experiment/deploy")), {
        distribution: "deploy",
        params: o.envParams,
        levels: o.levels,
        seed: evalSeed,
      });
      const best = inferred.candidates.find((c) => c.name === inferred.top)!;
      const record = (f: (name: string) => number): Record<string, number> => Object.fromEntries(names.map((n) => [n, f(n)]));
      agents.push({
        condition,
        seed,
        run_dir: trained.run.path,
        train_return: agentEval.intended_return,
        scripted_optimum: optimum.intended_return,
        solved_ratio: optimum.intended_return !== 0 ? agentEval.intended_return / optimum.intended_return : Number.NaN,
        map_top: maps.top,
        raw_map_top: maps.candidates[rawTop]!.name,
        planned_value: record((n) => maps.candidates.find((c) => c.name === n)!.planned_value.value),
        mean_value: record((n) => maps.candidates.find((c) => c.name === n)!.mean_value.value),
        inferred_top: inferred.top,
        posterior: record((n) => inferred.candidates.find((c) => c.name === n)!.probability),
        gain_per_action: best.gainPerAction,
        behaviour_fits: best.gainPerAction >= MIN_GAIN_PER_ACTION,
        agree: inferred.top === maps.top,
      });
    }
  }
  const summary: ObjectiveExperimentResult["conditions"] = {};
  for (const [condition] of conditions) {
    const mine = agents.filter((a) => a.condition === condition);
    const count = (key: "map_top" | "inferred_top"): Record<string, number> => Object.fromEntries(names.map((n) => [n, mine.filter((a) => a[key] === n).length]));
    summary[condition] = { map_top: count("map_top"), inferred_top: count("inferred_top"), mean_solved_ratio: mean(mine.map((a) => a.solved_ratio)) };
  }
  return {
    env: o.env,
    seeds: o.seeds,
    steps: o.steps,
    agents,
    agreement: wilsonInterval(agents.filter((a) => a.behaviour_fits && a.agree).length, agents.filter((a) => a.behaviour_fits).length),
    no_fit: agents.filter((a) => !a.behaviour_fits).length,
    conditions: summary,
    seconds: (performance.now() - t0) / 1000,
  };
}
