// `mesa experiment objective-inference --env coin-run --seeds 5 [--steps 1e6] [--cure randomCoinFraction=0.3|none]
// [--baseline-model cnn|mlp|none] [--env-param k=v] [--levels 200] [--json]`: trains glass-box planners with and
// without the cure and scores the behavioural objective inference against each agent's readable reward map
// (src/interp/objective-experiment.ts), with the env's default model trained beside them for the wall-clock to
// the same return. Prints the per-agent table, the agreement rate with its 95% interval, the planners' and the
// baseline's solved counts and wall-clock, and writes results.json into --out. Ctrl-C stops it after the current
// update with the finished agents recorded in --out/agents; the same command continues from them.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { parseConfig } from "../core/config.js";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import { environments } from "../envs/registry.js";
import { HEATMAPS_PER_AGENT, REACH_EPISODES, objectiveInferenceExperiment } from "../interp/objective-experiment.js";
import { rewardMapLegend } from "../interp/heatmap.js";
import { envObjectives } from "../interp/objective-report.js";
import { plannerOptionsSchema } from "../nn/models/planner.js";
import { policyKinds } from "../nn/models/policy.js";
import { validateRunConfig } from "../rl/run.js";
import { SOLVE_BUDGETS } from "../rl/solve.js";
import { MAX_LEVELS_AT_ONCE, MAX_SEEDS, checkEnvName, checkOutputDir, collectParam, parseCount, parseKeyValues, parseNumber, runFlagsOf } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { interruptedError, interruptible } from "./interrupt.js";
import { progressCallbacks } from "./progress.js";

interface Options {
  env: string;
  seeds: string;
  firstSeed?: string;
  steps: string;
  cure?: string;
  baselineModel?: string;
  target: string;
  envParam: string[];
  modelParam: string[];
  plannerLr?: string;
  levels: string;
  episodes: string;
  out: string;
  greedy?: boolean;
  json?: boolean;
}

export function registerObjectiveExperiment(experiment: Command): void {
  experiment
    .command("objective-inference")
    .description("train planner agents with and without the cure and score behavioural objective inference against their readable reward maps")
    .option("--env <name>", "environment with candidate objectives", "coin-run")
    .option("--seeds <n>", `training seeds per condition, 1 … ${MAX_SEEDS}`, "5")
    .option("--first-seed <n>", "start at this training seed (seeds first-seed … --seeds; default 1): the later seeds of an experiment whose first ones ran elsewhere")
    .option("--steps <n>", "env steps per training run (rounded down to whole PPO updates)", "1e6")
    .option("--cure <key=value>", "the training-distribution change that should teach the intended goal, or none (default: the env's declared cure, else none)")
    .option("--baseline-model <kind>", "model trained beside each planner for the wall-clock to the same return, or none (default: the env's tuned model, else mlp)")
    .option("--target <x>", "fraction of the scripted optimum that counts as solved", "0.9")
    .option("--env-param <key=value>", "environment parameter for every run (repeatable)", collectParam, [] as string[])
    .option("--model-param <key=value>", "planner setting for every planner run, e.g. iterations=17 (repeatable; see mesa train)", collectParam, [] as string[])
    .option("--planner-lr <x>", "learning rate of the planners (default: the env's tuned setting, the baseline's)")
    .option("--levels <n>", `deploy levels for the reward map and disambiguating levels for the inference, per agent, 1 … ${MAX_LEVELS_AT_ONCE}`, "200")
    .option("--episodes <n>", "train-level episodes for each agent's return and the scripted optimum", "300")
    .option("--out <dir>", "directory for the runs and results.json", "runs/experiment-objective-inference")
    .option("--greedy", "also read each agent's behaviour with its most likely action at every step (sampled actions are read always; agents recorded without it are read again)")
    .option("--json", "print one JSON object")
    .action(async (opts: Options, command: Command) => {
      checkEnvName(opts.env);
      const def = getEnvDefinition(opts.env);
      envObjectives(def, environments);
      let cure: { param: string; value: unknown } | null = def.objectives?.cure ? { ...def.objectives.cure } : null;
      if (opts.cure !== undefined) {
        if (opts.cure === "none") cure = null;
        else {
          const [param, value] = Object.entries(parseKeyValues([opts.cure], "--cure"))[0]!;
          if (!(param in def.params.shape)) throw new UsageError(`--cure: ${opts.env} has no parameter "${param}"`, `parameters: ${Object.keys(def.params.shape).join(", ")} (or none)`);
          cure = { param, value };
        }
      }
      const baselineModel = opts.baselineModel === "none" ? null : (opts.baselineModel ?? def.training?.model ?? "mlp");
      if (baselineModel !== null && !policyKinds().some((k) => k.kind === baselineModel)) {
        throw new UsageError(`--baseline-model: no model kind "${baselineModel}"`, `choose one of: ${policyKinds().map((k) => k.kind).join(", ")}, or none`);
      }
      const target = Number(opts.target);
      if (!(target > 0 && target <= 1)) throw new UsageError(`--target must be a fraction in (0, 1], got "${opts.target}"`, "e.g. --target 0.9");
      // the whole experiment is checked before the first training: counts, every condition's run configs, --out
      const options = {
        env: opts.env,
        seeds: parseCount(opts.seeds, "--seeds", { max: MAX_SEEDS, example: "5" }),
        ...(opts.firstSeed !== undefined ? { firstSeed: parseCount(opts.firstSeed, "--first-seed", { max: MAX_SEEDS, example: "2" }) } : {}),
        steps: parseCount(opts.steps, "--steps", { example: "1e6" }),
        cure,
        baselineModel,
        target,
        envParams: parseKeyValues(opts.envParam, "--env-param"),
        ...(opts.modelParam.length > 0 ? { modelParams: parseKeyValues(opts.modelParam, "--model-param") } : {}),
        ...(opts.plannerLr !== undefined ? { plannerLearningRate: parseNumber(opts.plannerLr, "--planner-lr", { min: 0, exclusiveMin: true, example: "2e-3" }) } : {}),
        levels: parseCount(opts.levels, "--levels", { max: MAX_LEVELS_AT_ONCE, example: "200" }),
        episodes: parseCount(opts.episodes, "--episodes", { example: "300" }),
        greedy: opts.greedy ?? false,
        out: opts.out,
        progress: (label: string) => progressCallbacks(label),
      };
      if ((options.firstSeed ?? 1) > options.seeds) throw new UsageError(`--first-seed ${options.firstSeed} is after the last seed (--seeds ${options.seeds})`, `e.g. --first-seed 2 --seeds 5 trains seeds 2 to 5`);
      // the planner's settings are checked now, not when the first planner is built
      if (options.modelParams) parseConfig(plannerOptionsSchema, options.modelParams, "planner settings (--model-param)");
      if (cure && cure.param in options.envParams) throw new UsageError(`--env-param ${cure.param} is also the cure's parameter (--cure)`, `leave ${cure.param} out of --env-param`);
      const labels = { ...runFlagsOf(command), ...(cure ? { [`envParams.${cure.param}`]: "--cure" } : {}) };
      const tuned = SOLVE_BUDGETS[opts.env]?.run ?? { ppo: {} };
      for (const params of [options.envParams, ...(cure ? [{ ...options.envParams, [cure.param]: cure.value }] : [])]) {
        for (const model of ["planner", ...(baselineModel ? [baselineModel] : [])]) {
          const hidden = model === tuned.model && tuned.hidden ? { hidden: [...tuned.hidden] } : {};
          const modelParams = model === "planner" && options.modelParams ? { modelParams: options.modelParams } : {};
          const lr = model === "planner" && options.plannerLearningRate !== undefined ? { learningRate: options.plannerLearningRate } : {};
          const { stepsNote } = validateRunConfig({ env: opts.env, distribution: "train", envParams: params, model, ...hidden, ...modelParams, ppo: { ...tuned.ppo, ...lr, totalTimesteps: options.steps, seed: 1 } }, { source: "mesa experiment objective-inference options", labels });
          if (stepsNote && model === "planner" && params === options.envParams) log(`note: ${stepsNote}`);
        }
      }
      checkOutputDir(opts.out);
      const result = await interruptible("the experiment", async (signal, interruption) => {
        const r = await objectiveInferenceExperiment({ ...options, signal, log });
        if (r === undefined) {
          const done = readdirSync(join(opts.out, "agents")).filter((f) => f.endsWith(".json")).length;
          throw interruptedError(
            interruption.signal,
            `the experiment stopped with ${done} agent(s) recorded in ${join(opts.out, "agents")}; the training under way holds a checkpoint`,
            "run the same command again to continue: recorded agents are skipped, the stopped one trains again from the start (its wall-clock to the target must come from one uninterrupted run)",
          );
        }
        return r;
      });
      if (opts.json) {
        printJson(result);
        return;
      }
      const names = Object.keys(result.agents[0]?.planned_value ?? {});
      const verdict = (r: { behaviour_fits: boolean; agree: boolean; map_top: string | null }): string => (!r.behaviour_fits ? "no fit" : r.map_top === null ? "–" : r.agree ? "yes" : "no");
      const rows = result.agents.map((a) => [
        a.condition,
        a.seed,
        `${formatNumber(a.train_return)} / ${formatNumber(a.scripted_optimum)}`,
        `${a.seconds_to_target === null ? "never" : formatNumber(a.seconds_to_target)} / ${formatNumber(a.train_seconds)}`,
        a.baseline ? `${formatNumber(a.baseline.train_return)}; ${a.baseline.seconds_to_target === null ? "never" : formatNumber(a.baseline.seconds_to_target)} / ${formatNumber(a.baseline.train_seconds)}` : "–",
        ...names.map((n) => formatNumber(a.planned_value[n]!)),
        a.map_top ?? "cannot tell",
        a.inferred_top,
        formatNumber(a.posterior[a.inferred_top]!),
        formatNumber(a.gain_per_action),
        verdict(a),
        ...(result.greedy ? (a.greedy ? [a.greedy.inferred_top, formatNumber(a.greedy.gain_per_action), verdict({ ...a.greedy, map_top: a.map_top })] : ["–", "–", "–"]) : []),
      ]);
      process.stdout.write(
        `${formatTable(["condition", "seed", "train return / scripted", "s to target / s trained", `${result.wall_clock?.model ?? "baseline"}: return; s to target / s trained`, ...names.map((n) => `planned worth: ${n}`), "reward map says", "behaviour says", "posterior", "gain/action", "agree", ...(result.greedy ? ["greedy: behaviour says", "gain/action", "agree"] : [])], rows)}\n`,
      );
      const agreementSentence = (ag: typeof result.agreement, noFit: number, how: string): string =>
        ag.n > 0
          ? `Behavioural inference (${how}) agrees with the reward map for ${Math.round(ag.value * ag.n)} of ${ag.n} agents whose behaviour fits a candidate (${formatNumber(100 * ag.value)}%, 95% CI [${formatNumber(100 * ag.ci95[0])}%, ${formatNumber(100 * ag.ci95[1])}%]); ${noFit} agent(s) fit no candidate (behaviour barely better than chance), reported apart${result.map_undecided > 0 ? `; on ${result.map_undecided} agent(s) the reward-map reading could not separate the candidates (reported apart)` : ""}.\n`
          : `No agent both fits a candidate (${how}) and has a decided reward-map reading (${noFit} fit none, barely better than chance; ${result.map_undecided} undecided maps): there is no agreement to measure.\n`;
      process.stdout.write(agreementSentence(result.agreement, result.no_fit, "sampled actions"));
      if (result.greedy) process.stdout.write(agreementSentence(result.greedy.agreement, result.greedy.no_fit, "greedy actions"));
      for (const [condition, c] of Object.entries(result.conditions)) {
        process.stdout.write(
          `${condition}: reward map favours ${Object.entries(c.map_top).map(([n, k]) => `${n} ${k}`).join(", ")}; behaviour ${Object.entries(c.inferred_top).map(([n, k]) => `${n} ${k}`).join(", ")}${c.greedy_inferred_top ? ` (greedy: ${Object.entries(c.greedy_inferred_top).map(([n, k]) => `${n} ${k}`).join(", ")})` : ""}; ${c.solved} of ${c.agents} planners reach ${formatNumber(100 * result.target)}% of the scripted optimum on train (mean train return / scripted ${formatNumber(c.mean_solved_ratio)})\n`,
        );
      }
      const r = result.map_ranking;
      if (r) {
        const parts = [
          r.without_cure ? `without the cure "${r.proxy}" first in ${r.without_cure.proxy_first} of ${r.without_cure.agents} agents — ${r.without_cure.most ? "met" : "not met"}` : "no agent trained without the cure",
          r.with_cure ? `with the cure "${r.intended}" first in ${r.with_cure.intended_first} of ${r.with_cure.agents} — ${r.with_cure.most ? "met" : "not met"}` : "no agent trained with the cure",
        ];
        process.stdout.write(`Map ranking (target: trained without the cure, the reward map ranks "${r.proxy}" first in most seeds; with the cure, "${r.intended}"): ${parts.join("; ")}.\n`);
        if (r.literature) {
          const l = r.literature;
          const here = r.without_cure ? `${r.without_cure.proxy_first} of ${r.without_cure.agents} maps trained without the cure rank "${r.proxy}" first` : "";
          process.stdout.write(
            `Literature: ${l.source} — without the cure they pursued "${l.pursued}". ${l.agrees === null ? "No agent here was trained without the cure to compare." : `Here ${here}: ${l.agrees ? "as in the literature" : "this differs from the literature"}.`}\n`,
          );
        }
      }
      process.stdout.write(`Reward-map heatmaps of every agent on its first ${HEATMAPS_PER_AGENT} deploy levels (${rewardMapLegend(Object.keys(result.agents[0]?.planned_value ?? {}).map((name) => ({ name })))}): ${result.heatmaps_dir}/\n`);
      const refs = Object.entries(result.references);
      process.stdout.write(
        `${formatTable(
          ["reference policy", ...Object.keys(result.conditions).map((c) => `train return (${c})`), "behaviour says (deploy)", "posterior", "gain/action"],
          refs.map(([label, r]) => [label, ...Object.keys(result.conditions).map((c) => formatNumber(r.train_return[c]!)), r.deploy.behaviour_fits ? r.deploy.inferred_top : "no fit", formatNumber(r.deploy.posterior[r.deploy.inferred_top]!), formatNumber(r.deploy.gain_per_action)]),
        )}\n`,
      );
      const w = result.wall_clock;
      if (w) {
        const secs = (x: number | null): string => (x === null ? "never" : `${formatNumber(x)} s`);
        const ratio = (x: number | null): string => (x === null ? "–" : `${formatNumber(x)}×`);
        process.stdout.write(
          `${formatTable(
            ["training return ≥ (× optimum)", "planner reached", `${w.model} reached`, "planner median s (CPU s)", `${w.model} median s (CPU s)`, "ratio wall (CPU)", "paired seeds: median ratio wall (CPU)"],
            w.thresholds.map((t) => [
              formatNumber(t.fraction),
              `${t.planner_reached} of ${t.seeds}`,
              `${t.baseline_reached} of ${t.seeds}`,
              t.planner_median_seconds === null ? "never" : `${formatNumber(t.planner_median_seconds)} (${t.planner_median_cpu_seconds === null ? "–" : formatNumber(t.planner_median_cpu_seconds)})`,
              t.baseline_median_seconds === null ? "never" : `${formatNumber(t.baseline_median_seconds)} (${t.baseline_median_cpu_seconds === null ? "–" : formatNumber(t.baseline_median_cpu_seconds)})`,
              `${ratio(t.ratio)} (${ratio(t.cpu_ratio)})`,
              `${t.paired_seeds}: ${ratio(t.paired_median_ratio)} (${ratio(t.paired_median_cpu_ratio)})`,
            ]),
          )}\n`,
        );
        process.stdout.write(
          `Wall-clock to ${formatNumber(100 * result.target)}% of the scripted optimum (training return averaged over its latest ${REACH_EPISODES}+ finished episodes, median over seeds that reached it; failures apart): planner ${secs(w.planner_median_seconds)} (${w.planner_reached} of ${w.seeds} seeds), ${w.model} ${secs(w.baseline_median_seconds)} (${w.baseline_reached} of ${w.seeds})${w.ratio !== null ? `: the planner takes ${formatNumber(w.ratio)}× the ${w.model}'s time` : ""}${w.cpu_ratio !== null ? `; in CPU seconds ${formatNumber(w.planner_median_cpu_seconds!)} vs ${formatNumber(w.baseline_median_cpu_seconds!)}, ${formatNumber(w.cpu_ratio)}×` : ""}.\n`,
        );
      }
      log(`results: ${join(opts.out, "results.json")} (${formatNumber(result.seconds)} s)`);
    });
}
