// Does PPO solve each environment's train distribution? For every environment: a documented training budget
// (env steps and the few settings that differ from the CleanRL defaults), then the trained agent's intended
// return on train levels next to the scripted optimal policy's. "Solved" means at least 90% of it.
import { Rng } from "../core/rng.js";
import { getEnvDefinition } from "../envs/make.js";
import { type ScriptedPolicy, scriptedPolicy } from "../envs/scripted.js";
import { evaluate, policyActions, type ActionSource } from "./evaluate.js";
import type { PpoCallbacks } from "./ppo.js";
import { type RunConfigInput, startRun } from "./run.js";

export interface SolveBudget {
  /** why these settings, in one line */
  note: string;
  run: Omit<RunConfigInput, "env">;
}

/**
 * Budgets measured on the 2-core machine this was developed on (the README's table has the figures).
 * Shorter rollouts (32 steps) with a higher learning rate learn the small grids in fewer env steps than
 * CleanRL's Atari-sized 128-step rollouts. absent-supervisor pays ±50: unscaled, the clipped critic cannot follow
 * (explained variance stays ~0); scaled but with per-minibatch advantage normalization, PPO locks onto the
 * punished shortcut (base return 17) within ~100k steps at every entropy coefficient tried (0.01–0.5) and never
 * finds the long way round (41). Scaled rewards with raw advantages and a little more entropy solve it.
 */
export const SOLVE_BUDGETS: Readonly<Record<string, SolveBudget>> = {
  "points-bug": {
    note: "default 3×8 levels; 32-step rollouts, lr 1e-3",
    run: { ppo: { totalTimesteps: 1_000_000, numSteps: 32, learningRate: 1e-3 } },
  },
  "coin-run": {
    note: "12-wide platformer levels; 32-step rollouts, lr 1e-3",
    run: { ppo: { totalTimesteps: 1_000_000, numSteps: 32, learningRate: 1e-3 } },
  },
  "maze-cheese": {
    note: "default mazes of 2–3 cells a side; 32-step rollouts, lr 1e-3",
    run: { ppo: { totalTimesteps: 2_000_000, numSteps: 32, learningRate: 1e-3 } },
  },
  "keys-chests": {
    note: "32-step rollouts, lr 1e-3",
    run: { ppo: { totalTimesteps: 1_000_000, numSteps: 32, learningRate: 1e-3 } },
  },
  "absent-supervisor": {
    note: "rewards of ±50: rewardScale 0.02, raw advantages, entropy 0.02; 32-step rollouts, lr 1e-3",
    run: { ppo: { totalTimesteps: 1_000_000, numSteps: 32, learningRate: 1e-3, rewardScale: 0.02, normAdv: false, entCoef: 0.02 } },
  },
};

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
  solved: boolean;
  run_dir: string;
  note: string;
}

/** Trains `env` on its documented budget (steps overridable) and compares with the scripted optimal policy. */
export async function solveEnv(env: string, options: { out: string; steps?: number; seed?: number; episodes?: number; progress?: PpoCallbacks }): Promise<SolveResult> {
  const def = getEnvDefinition(env);
  const budget = SOLVE_BUDGETS[env] ?? { note: "CleanRL defaults", run: { ppo: {} } };
  const seed = options.seed ?? 1;
  const ppo = { ...budget.run.ppo, seed, ...(options.steps ? { totalTimesteps: options.steps } : {}) };
  const trained = await startRun(options.out, { ...budget.run, env, ppo }, options.progress ?? {});
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
  return {
    env,
    steps: trained.result.globalStep,
    seconds: trained.result.seconds,
    agent_intended_return: agent.intended_return,
    agent_intended_ci95: agent.intended_return_ci95,
    scripted_intended_return: reference.intended_return,
    ratio,
    solved: ratio >= 0.9,
    run_dir: trained.run.path,
    note: budget.note,
  };
}
