// `experiment` jobs: `mesa experiment misgeneralization` — PPO at several values of a training-distribution
// parameter, each agent evaluated on deploy levels — into the job's own folder (runs/, results.json, the plot).
// The sweep's seed s makes a job train seeds s·seeds … s·seeds + seeds − 1, so blocks of different sweep seeds
// never share a training seed. Metrics per value: `<param>=<value>/misgeneralization_rate`, `…/intended_goal_rate`,
// `…/train_return` (means over the job's seeds).
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, MesaError } from "../../core/errors.js";
import { parseConfig } from "../../core/config.js";
import { resolveParams } from "../../envs/engine.js";
import { getEnvDefinition } from "../../envs/make.js";
import { environments } from "../../envs/registry.js";
import { policyKinds } from "../../nn/models/policy.js";
import { misgeneralizationSweep } from "../../rl/experiment.js";
import { SOLVE_BUDGETS } from "../../rl/solve.js";
import { type JobKind, type JobMetrics, yieldToEvents } from "../jobs.js";
import { readJobJson } from "./run_files.js";

export const experimentConfigSchema = z
  .object({
    /** which experiment (the misgeneralization curve; more as they are added) */
    name: z.literal("misgeneralization").default("misgeneralization"),
    /** environment */
    env: z.string().default("coin-run"),
    /** the training-distribution parameter varied */
    param: z.string().default("randomCoinFraction"),
    /** its values */
    values: z.array(z.number()).min(1).default([0, 0.02, 0.1, 0.3]),
    /** training seeds per value within one job */
    seeds: z.number().int().min(1).max(1000).default(1),
    /** set by the sweep's seeds: this job trains seeds seed·seeds … seed·seeds + seeds − 1 */
    seed: z.number().int().min(0).default(1),
    /** env steps per training run */
    steps: z.number().int().positive().default(1_000_000),
    /** deploy episodes per trained agent */
    episodes: z.number().int().positive().max(10_000_000).default(500),
    /** policy model (default: the env's tuned model, else mlp) */
    model: z.string().optional(),
  })
  .strict();
export type ExperimentConfig = z.output<typeof experimentConfigSchema>;

const POINT_METRICS = ["misgeneralization_rate", "intended_goal_rate", "train_return"] as const;

function pointName(param: string, value: number, metric: string): string {
  return `${param}=${value}/${metric}`;
}

export const experimentJob: JobKind<ExperimentConfig, Record<string, never>> = {
  name: "experiment",
  description: "the misgeneralization curve (mesa experiment misgeneralization) for one block of training seeds",
  configSchema: experimentConfigSchema,
  seedPath: "seed",
  optionsSchema: z.object({}).strict(),

  buildConfig(fields, _options, source) {
    const config = parseConfig(experimentConfigSchema, fields, source);
    if (!(config.env in environments)) throw new ConfigError(`${source}: unknown environment "${config.env}"`, `choose one of: ${Object.keys(environments).join(", ")}`);
    const models = policyKinds().map((k) => k.kind);
    if (config.model !== undefined && !models.includes(config.model)) throw new ConfigError(`${source}: unknown model "${config.model}"`, `choose one of: ${models.join(", ")}`);
    const def = getEnvDefinition(config.env);
    try {
      // every value must make valid training levels, before any run starts
      for (const value of config.values) resolveParams(def, "train", { [config.param]: value });
      resolveParams(def, "deploy");
    } catch (err) {
      if (err instanceof MesaError) throw new ConfigError(`${source}: ${err.message}`, err.hint);
      throw err;
    }
    return config;
  },

  metricNames(config) {
    return config.values.flatMap((v) => POINT_METRICS.map((m) => pointName(config.param, v, m)));
  },

  metricRange(metric) {
    return metric.endsWith("_rate") ? [0, 1] : undefined;
  },

  defaultMetrics(config) {
    return config.values.map((v) => pointName(config.param, v, "misgeneralization_rate"));
  },

  async run(config, _options, context) {
    const out = join(context.runsRoot, `misgeneralization-${config.env}-seed${config.seed}-${Math.floor(Date.now() / 1000)}`);
    context.onRunDir(out);
    const total = config.values.length * config.seeds;
    let started = 0;
    await misgeneralizationSweep({
      env: config.env,
      param: config.param,
      values: config.values,
      seeds: config.seeds,
      firstSeed: config.seed * config.seeds,
      steps: config.steps,
      episodes: config.episodes,
      out,
      // the env's tuned model and PPO settings, as `mesa experiment` uses them
      base: { ...(SOLVE_BUDGETS[config.env]?.run ?? {}), ...(config.model !== undefined ? { model: config.model } : {}) },
      progress: () => {
        const done = started++;
        return {
          onUpdate(_metrics, info) {
            context.onProgress((done + info.globalStep / info.totalTimesteps) / total);
            return yieldToEvents();
          },
        };
      },
    });
    return out;
  },

  collect(runDir, config) {
    const results = readJobJson(join(runDir, "results.json"));
    const points = Array.isArray(results.points) ? (results.points as Record<string, unknown>[]) : [];
    const metrics: JobMetrics = {};
    for (const name of this.metricNames(config, {})) metrics[name] = null;
    for (const point of points) {
      for (const m of POINT_METRICS) {
        const v = point[m];
        metrics[pointName(config.param, Number(point.value), m)] = typeof v === "number" && Number.isFinite(v) ? v : null;
      }
    }
    return metrics;
  },
};
