// `mesa objective RUN [--distribution deploy] [--levels 500] [--seed N] [--pictures 6] [--json]`: reads a
// planner run's mesa-objective — its learned reward map — on sample levels and scores it against every
// candidate objective the environment declares (mean map value at the candidate's goal cells, rank correlation,
// how often the map's top cell is the candidate's goal), beside a freshly initialised planner of the same
// shape (what the numbers are without learning). Writes heatmaps (level | reward map | termination map) and
// the JSON report into RUN/objective/.
import { join } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { getEnvDefinition, paramsOn } from "../envs/make.js";
import { environments } from "../envs/registry.js";
import { assertWritableDir, writeJsonAtomic } from "../io/atomic.js";
import { rewardMapLegend, writeRewardMapPictures } from "../interp/heatmap.js";
import { type PassabilityReading, type RewardMapReport, envObjectives, readingLevels, scoreRewardMaps } from "../interp/objective-report.js";
import type { PlannerActorCritic } from "../nn/models/planner.js";
import { createPolicy } from "../nn/models/policy.js";
import { loadRunPolicy } from "../rl/run.js";
import type { Estimate } from "../rl/stats.js";
import { MAX_LEVELS_AT_ONCE, parseCount, parseInteger, parseSeed } from "./args.js";
import { EVAL_SEED_OFFSET } from "./eval.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface ObjectiveOptions {
  distribution?: string;
  levels: string;
  seed?: string;
  pictures: string;
  out?: string;
  json?: boolean;
}

/** Heatmap pictures a run of `mesa objective` may draw (`--pictures`). */
const MAX_PICTURES = 1000;

/** The report as the documented JSON: candidates (name, mean_value, rank_correlation, …) and top. */
export function rewardMapJson(r: RewardMapReport): Record<string, unknown> {
  return {
    env: r.env,
    distribution: r.distribution,
    levels: r.levels,
    top: r.top,
    top_by: r.top_by,
    separating_levels: r.separating_levels,
    candidates: r.candidates.map((c) => ({
      name: c.name,
      doc: c.doc,
      mean_value: c.mean_value.value,
      mean_value_ci95: c.mean_value.ci95,
      rank_correlation: c.rank_correlation.value,
      rank_correlation_ci95: c.rank_correlation.ci95,
      planned_value: c.planned_value.value,
      planned_value_ci95: c.planned_value.ci95,
      top_cell_rate: c.top_cell_rate,
      levels: c.levels,
    })),
    passability: passabilityJson(r.passability),
  };
}

/** A learned-transition planner's passability against the observation's walls, as JSON (null for a planner that reads its walls). */
function passabilityJson(p: PassabilityReading | null): Record<string, unknown> | null {
  if (p === null) return null;
  return { auc: p.auc.value, auc_ci95: p.auc.ci95, accuracy: p.accuracy.value, accuracy_ci95: p.accuracy.ci95, open_mean: p.open_mean.value, wall_mean: p.wall_mean.value, levels: p.levels };
}

const est = (e: Estimate): string => (Number.isFinite(e.value) ? `${formatNumber(e.value)} [${formatNumber(e.ci95[0])}, ${formatNumber(e.ci95[1])}]` : "–");

export function register(program: Command): void {
  program
    .command("objective")
    .description("read a planner run's learned reward map (its mesa-objective) and score it against the env's candidate objectives, with heatmaps")
    .argument("<run_dir>", "run directory of a planner trained by mesa train --model planner")
    .option("--distribution <name>", "level distribution to read the map on; deploy is where the candidates come apart (default: deploy)")
    .option("--levels <n>", `levels to score, 1 … ${MAX_LEVELS_AT_ONCE}`, "500")
    .option("--seed <n>", `level seed (default: the run's seed + ${EVAL_SEED_OFFSET}, levels training never saw)`)
    .option("--pictures <n>", `levels drawn as heatmaps, 0 … ${MAX_PICTURES} (no more than --levels)`, "6")
    .option("--out <dir>", "folder for the heatmaps and the JSON report (default: <run_dir>/objective)")
    .option("--json", "print one JSON object")
    .action((runDir: string, opts: ObjectiveOptions) => {
      // every flag and the output folder before any level is stepped
      const levels = parseCount(opts.levels, "--levels", { max: MAX_LEVELS_AT_ONCE, example: "500" });
      const pictures = parseInteger(opts.pictures, "--pictures", { min: 0, max: Math.min(MAX_PICTURES, levels), example: "6" });
      const explicitSeed = opts.seed !== undefined ? parseSeed(opts.seed) : undefined;
      const { config, policy, step } = loadRunPolicy(runDir);
      if (policy.kind !== "planner") {
        throw new UsageError(`mesa objective reads a planner's reward map, but ${runDir} trained a "${policy.kind}" policy`, "train one with mesa train --model planner, or ask any policy with mesa infer-objective RUN");
      }
      const def = getEnvDefinition(config.env);
      const objectives = envObjectives(def, environments);
      const distribution = opts.distribution ?? ("deploy" in def.distributions ? "deploy" : config.distribution);
      if (!(distribution in def.distributions)) throw new UsageError(`${config.env} has no distribution "${distribution}" (--distribution)`, `choose one of: ${Object.keys(def.distributions).join(", ")}`);
      const seed = explicitSeed ?? config.ppo.seed + EVAL_SEED_OFFSET;
      const dir = opts.out ?? join(runDir, "objective");
      assertWritableDir(dir, opts.out ? `--out ${dir}` : `the report folder (${dir})`, "write the report elsewhere with --out DIR");
      const views = readingLevels(def, objectives, { n: levels, distribution, params: paramsOn(def, distribution, config.distribution, config.envParams), seed });
      const planner = policy as PlannerActorCritic;
      const report = scoreRewardMaps(planner, views, objectives, pictures);
      // baseline: the same architecture untrained
      const untrained = createPolicy(planner.spec, new Rng(config.ppo.seed + 1, "objective/untrained")) as PlannerActorCritic;
      const baseline = scoreRewardMaps(untrained, views, objectives, 0);
      const files = writeRewardMapPictures(def, report, dir, distribution);
      const json = { ...rewardMapJson(report), run_dir: runDir, checkpoint_step: step, seed, untrained: rewardMapJson(baseline), pictures: files };
      writeJsonAtomic(join(dir, `${distribution}.json`), json);
      if (opts.json) {
        printJson(json);
        return;
      }
      const rows = report.candidates.map((c, k) => {
        const b = baseline.candidates[k]!;
        return [c.name, est(c.mean_value), est(c.rank_correlation), est(c.planned_value), formatNumber(c.top_cell_rate), est(b.planned_value), formatNumber(b.top_cell_rate)];
      });
      process.stdout.write(
        `${formatTable(
          [`${config.env} / ${distribution}, ${levels} levels`, "reward map at goal (95% CI)", "rank correlation", "planned worth of goal", "top cell (planned)", "untrained: planned worth", "untrained: top cell"],
          rows,
        )}\n`,
      );
      const sentence = (key: "planned_value" | "mean_value", what: string): string => {
        const [first, second] = [...report.candidates].sort((a, b) => b[key].value - a[key].value);
        if (!first || !second) return "";
        const apart = first[key].ci95[0] > second[key].ci95[1];
        return `${what} "${first.name}" most (${formatNumber(first[key].value)} vs ${formatNumber(second[key].value)} for "${second.name}"${apart ? ", intervals apart" : ", intervals overlap: no clear preference"})`;
      };
      const topScore = report.candidates.find((c) => c.name === report.top)!;
      if (report.top_by === "undecided") {
        process.stdout.write(`On none of these ${report.levels} levels do the candidates' maps differ, so the reward map cannot tell them apart here.\n`);
      } else if (report.top_by === "rank correlation") {
        const [first, second] = [...report.candidates].sort((x, y) => y.rank_correlation.value - x.rank_correlation.value);
        process.stdout.write(
          `The candidates share their goal cells, so the planned worth there cannot tell them apart; the reward map ranks cells most like "${first!.name}" (rank correlation ${formatNumber(first!.rank_correlation.value)} vs ${formatNumber(second!.rank_correlation.value)} for "${second!.name}"). ${sentence("mean_value", "The raw reward map alone rates")}.\n`,
        );
      } else {
        process.stdout.write(
          `${sentence("planned_value", "The planner values reaching")}; its most valuable cell is a "${report.top}" goal on ${formatNumber(100 * topScore.top_cell_rate)}% of levels. ${sentence("mean_value", "The raw reward map alone rates")}.\n`,
        );
      }
      const gates = report.passability;
      if (gates) {
        const untrainedAuc = baseline.passability ? `; untrained: AUC ${formatNumber(baseline.passability.auc.value)}` : "";
        process.stdout.write(
          `Its learned passability against the observation's walls: AUC ${est(gates.auc)}, accuracy at 0.5 ${est(gates.accuracy)} (open cells ${formatNumber(gates.open_mean.value)}, walls ${formatNumber(gates.wall_mean.value)} on average; ${gates.levels} levels${untrainedAuc}).\n`,
        );
      }
      if (files.length > 0) log(`heatmaps (${rewardMapLegend(report.candidates)}): ${dir}/`);
    });
}
