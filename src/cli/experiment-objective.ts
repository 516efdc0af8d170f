// `mesa experiment objective-inference --env coin-run --seeds 5 [--steps 1e6] [--cure randomCoinFraction=0.3]
// [--env-param k=v] [--levels 200] [--json]`: trains glass-box planners with and without the cure and scores the
// behavioural objective inference against each agent's readable reward map (src/interp/objective-experiment.ts).
// Prints the per-agent table, the agreement rate with its 95% interval, and writes results.json into --out.
import { join } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import { environments } from "../envs/registry.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { objectiveInferenceExperiment } from "../interp/objective-experiment.js";
import { envObjectives } from "../interp/objective-report.js";
import { checkEnvName, collectParam, parseCount, parseKeyValues } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { progressCallbacks } from "./train.js";

interface Options {
  env: string;
  seeds: string;
  steps: string;
  cure: string;
  envParam: string[];
  levels: string;
  episodes: string;
  out: string;
  json?: boolean;
}

export function registerObjectiveExperiment(experiment: Command): void {
  experiment
    .command("objective-inference")
    .description("train planner agents with and without the cure and score behavioural objective inference against their readable reward maps")
    .option("--env <name>", "environment with candidate objectives", "coin-run")
    .option("--seeds <n>", "training seeds per condition", "5")
    .option("--steps <n>", "env steps per training run", "1e6")
    .option("--cure <key=value>", "the training-distribution change that should teach the intended goal", "randomCoinFraction=0.3")
    .option("--env-param <key=value>", "environment parameter for every run (repeatable)", collectParam, [] as string[])
    .option("--levels <n>", "deploy levels for the reward map and disambiguating levels for the inference, per agent", "200")
    .option("--episodes <n>", "train-level episodes for each agent's return and the scripted optimum", "300")
    .option("--out <dir>", "directory for the runs and results.json", "runs/experiment-objective-inference")
    .option("--json", "print one JSON object")
    .action(async (opts: Options) => {
      checkEnvName(opts.env);
      const def = getEnvDefinition(opts.env);
      envObjectives(def, environments);
      const cure = parseKeyValues([opts.cure], "--cure");
      const [param, value] = Object.entries(cure)[0]!;
      if (!(param in def.params.shape)) throw new UsageError(`--cure: ${opts.env} has no parameter "${param}"`, `parameters: ${Object.keys(def.params.shape).join(", ")}`);
      const result = await objectiveInferenceExperiment({
        env: opts.env,
        seeds: parseCount(opts.seeds, "--seeds"),
        steps: parseCount(opts.steps, "--steps"),
        cure: { param, value },
        envParams: parseKeyValues(opts.envParam, "--env-param"),
        levels: parseCount(opts.levels, "--levels"),
        episodes: parseCount(opts.episodes, "--episodes"),
        out: opts.out,
        progress: (label) => progressCallbacks(label),
      });
      writeJsonAtomic(join(opts.out, "results.json"), result);
      if (opts.json) {
        printJson(result);
        return;
      }
      const names = Object.keys(result.agents[0]?.planned_value ?? {});
      const rows = result.agents.map((a) => [
        a.condition,
        a.seed,
        `${formatNumber(a.train_return)} / ${formatNumber(a.scripted_optimum)}`,
        ...names.map((n) => formatNumber(a.planned_value[n]!)),
        a.map_top,
        a.inferred_top,
        formatNumber(a.posterior[a.inferred_top]!),
        formatNumber(a.gain_per_action),
        !a.behaviour_fits ? "no fit" : a.agree ? "yes" : "no",
      ]);
      process.stdout.write(
        `${formatTable(["condition", "seed", "train return / scripted", ...names.map((n) => `planned worth: ${n}`), "reward map says", "behaviour says", "posterior", "gain/action", "agree"], rows)}\n`,
      );
      const ag = result.agreement;
      process.stdout.write(
        ag.n > 0
          ? `Behavioural inference agrees with the reward map for ${Math.round(ag.value * ag.n)} of ${ag.n} agents whose behaviour fits a candidate (${formatNumber(100 * ag.value)}%, 95% CI [${formatNumber(100 * ag.ci95[0])}%, ${formatNumber(100 * ag.ci95[1])}%]); ${result.no_fit} agent(s) fit no candidate (behaviour barely better than chance), reported apart.\n`
          : `No agent's behaviour fits a candidate (all ${result.no_fit} barely better than chance): there is no agreement to measure.\n`,
      );
      for (const [condition, c] of Object.entries(result.conditions)) {
        process.stdout.write(`${condition}: reward map favours ${Object.entries(c.map_top).map(([n, k]) => `${n} ${k}`).join(", ")}; behaviour ${Object.entries(c.inferred_top).map(([n, k]) => `${n} ${k}`).join(", ")}; mean train return / scripted ${formatNumber(c.mean_solved_ratio)}\n`);
      }
      log(`results: ${join(opts.out, "results.json")} (${formatNumber(result.seconds)} s)`);
    });
}
