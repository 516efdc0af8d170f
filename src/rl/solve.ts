// Does PPO solve each environment's train distribution? For every environment: a documented training budget
// (env steps and the few settings that differ from the CleanRL defaults), then the trained agent's intended
// return on train levels next to the scripted optimal policy's. "Solved" means at least 90% of it.
import { Rng } from "../core/rng.js";
import { getEnvDefinition } from "../envs/make.js";
import { environments } from "../envs/registry.js";
import type { ScriptedPolicy } from "../envs/engine.js";
import { scriptedPolicy } from "../envs/scripted.js";
import { evaluate, policyActions, type ActionSource } from "./evaluate.js";
import { baselines } from "./validate.js";
import type { PpoCallbacks } from "./ppo.js";
import { type RunConfigInput, startRun } from "./run.js";

export interface SolveBudget {
  /** why these settings, in one line */
  note: string;
  run: Omit<RunConfigInput, "env">;
}

/**
 * Each environment's tuned training settings, as its definition declares them (`training`: model, PPO settings
 * that differ from CleanRL's, and why); environments without them train on the CleanRL defaults.
 */
export const SOLVE_BUDGETS: Readonly<Record<string, SolveBudget>> = Object.fromEntries(
  Object.values(environments)
    .filter((def) => def.training !== undefined)
    .map((def) => {
      const t = def.training!;
      const run: Omit<RunConfigInput, "env"> = {
        ...(t.model ? { model: t.model } : {}),
        ...(t.hidden ? { hidden: [...t.hidden] } : {}),
        ppo: { ...t.ppo },
        ...(t.envParams ? { envParams: { ...t.envParams } } : {}),
        ...(t.curriculum ? { curriculum: t.curriculum.map((stage) => ({ until: stage.until, envParams: { ...stage.envParams } })) } : {}),
      };
      return [def.name, { note: t.note, run }];
    }),
);

export interface SolveResult {
  env: string;
  steps: number;
  seconds: number;
  /** intended return of the trained agent on train levels (sampling its actions) */
  agent_intended_return: number;
  agent_intended_ci95: [number, number];
  /** intended return of the scripted optimal policy on the same levels */
  scripted_intended_return: number;
  /** agent / scripted */
  ratio: number;
  /** baselines on the same train levels: a uniformly random policy and the observation-only intended policy (null without one) */
  random_intended_return: number;
  observation_only_intended_return: number | null;
  solved: boolean;
  run_dir: string;
  note: string;
}

/** Trains `env` on its documented budget (steps overridable) and compares with the scripted optimal policy. */
/** Returns undefined when `options.signal` stopped the training (its run holds a checkpoint, status "interrupted"). */
export async function solveEnv(env: string, options: { out: string; steps?: number; seed?: number; episodes?: number; progress?: PpoCallbacks; signal?: AbortSignal }): Promise<SolveResult | undefined> {
  const def = getEnvDefinition(env);
  const budget = SOLVE_BUDGETS[env] ?? { note: "CleanRL defaults", run: { ppo: {} } };
  const seed = options.seed ?? 1;
  const ppo = { ...budget.run.ppo, seed, ...(options.steps ? { totalTimesteps: options.steps } : {}) };
  const trained = await startRun(options.out, { ...budget.run, env, ppo }, options.progress ?? {}, options.signal ? { signal: options.signal } : {});
  if (trained.interrupted) return undefined;
  const episodes = options.episodes ?? 1000;
  const evalSeed = seed + 2_000_003;
  let scripted: ScriptedPolicy | undefined;
  const scriptedSource: ActionSource = (e, actions) => {
    scripted ??= scriptedPolicy(e, "intended");
    scripted.act(e, actions);
  };
  const common = { distribution: budget.run.distribution ?? "train", params: budget.run.envParams ?? {}, episodes, seed: evalSeed };
  const agent = evaluate(def, policyActions(trained.policy, new Rng(evalSeed, "solve")), common);
  const reference = evaluate(def, scriptedSource, common);
  const ratio = agent.intended_return / reference.intended_return;
  const refs = baselines(def, { distribution: common.distribution, params: common.params, episodes, seed: evalSeed }, ["random", "observation-only"]);
  return {
    env,
    steps: trained.result.globalStep,
    seconds: trained.result.seconds,
    agent_intended_return: agent.intended_return,
    agent_intended_ci95: agent.intended_return_ci95,
    scripted_intended_return: reference.intended_return,
    ratio,
    random_intended_return: refs.random!.intended_return,
    observation_only_intended_return: refs["observation-only"]?.intended_return ?? null,
    solved: ratio >= 0.9,
    run_dir: trained.run.path,
    note: budget.note,
  };
}
