// `icl` jobs: `mesa icl` (a transformer trained on in-context linear regression, compared with GD / GD++) into a run
// directory. Metrics: the figures of `mesa icl --json`, read back from the run's summary.json.
import { z } from "zod";
import { RunDirError } from "../../core/errors.js";
import { RunDir } from "../../io/rundir.js";
import { runIclExperiment } from "../../icl/run.js";
import { type IclConfig, iclConfig, iclConfigSchema } from "../../icl/train.js";
import type { JobKind, JobMetrics } from "../jobs.js";
import { abandonRun, numericLeaves } from "./run_files.js";

type ResolvedIclConfig = IclConfig & { steps: number; batch: number };

const COMPARISON = ["model_loss", "baseline_loss", "relative_gap", "prediction_cosine", "sensitivity_cosine", "prediction_msd"] as const;

export const iclJob: JobKind<ResolvedIclConfig, Record<string, never>> = {
  name: "icl",
  description: "in-context linear regression, the trained transformer compared with gradient descent (mesa icl)",
  configSchema: iclConfigSchema,
  seedPath: "seed",
  optionsSchema: z.object({}).strict(),

  buildConfig(fields, _options, source) {
    return iclConfig(fields, source);
  },

  metricNames(config) {
    const names: string[] = [...COMPARISON, "gd_eta", "interpolated_loss", "least_squares_loss", "ridge_loss", "final_train_loss", "train_seconds", "seconds"];
    names.push(...COMPARISON.map((m) => `ood/${m}`));
    if (config.layers > 1) names.push(...COMPARISON.map((m) => `vs_gdpp/${m}`));
    return names;
  },

  metricRange(metric) {
    return metric.endsWith("_cosine") ? [-1, 1] : metric.endsWith("_loss") || metric.endsWith("_msd") ? [0, Number.POSITIVE_INFINITY] : undefined;
  },

  defaultMetrics(config) {
    const names = ["model_loss", "baseline_loss", "prediction_cosine", "sensitivity_cosine"];
    if (config.layers > 1) names.push("vs_gdpp/prediction_cosine");
    return names;
  },

  async run(config, _options, context) {
    const { run } = await runIclExperiment(config, context.runsRoot, {
      onRunDir: (created) => {
        context.onRunDir(created.path);
        // ICL runs restart from the beginning (they take seconds to minutes); the killed attempt is marked
        if (context.previousRunDir !== undefined) abandonRun(context.previousRunDir, created.path);
      },
      onStep: (step) => {
        if (step % 10 === 0) context.onProgress((0.8 * step) / config.steps);
      },
    });
    context.onProgress(1);
    return run.path;
  },

  collect(runDir, config) {
    const summary = RunDir.open(runDir).summary();
    if (summary.status !== "finished") throw new RunDirError(`${runDir}: the run's status is "${summary.status}", not finished`, "re-run the sweep to run it again");
    const all = numericLeaves(summary);
    const metrics: JobMetrics = {};
    for (const name of this.metricNames(config, {})) metrics[name] = all[name] ?? null;
    return metrics;
  },
};
