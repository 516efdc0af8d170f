// `train` jobs: `mesa train` (PPO into a run directory, starting from the env's tuned settings as mesa train does),
// then, when the spec asks, the trained agent evaluated on level distributions (`evaluation-<distribution>.json`
// in the run directory). Metrics: the last update's PPO metrics and every evaluation's rates and returns. The
// baselines — a random policy and the scripted intended and proxy policies — are measured on the same levels.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, MesaError, RunDirError } from "../../core/errors.js";
import { parseConfig } from "../../core/config.js";
import { Rng } from "../../core/rng.js";
import { resolveParams } from "../../envs/engine.js";
import { getEnvDefinition, paramsOn } from "../../envs/make.js";
import { environments } from "../../envs/registry.js";
import type { ScriptedPolicy } from "../../envs/engine.js";
import { scriptedPolicy, type ScriptedKind } from "../../envs/scripted.js";
import { writeJsonAtomic } from "../../io/atomic.js";
import { RunDir } from "../../io/rundir.js";
import { policyKinds } from "../../nn/models/policy.js";
import { derivedSizes } from "../../rl/config.js";
import { type ActionSource, EVAL_SEED_OFFSET, type EvaluationResult, evaluate, policyActions } from "../../rl/evaluate.js";
import type { PpoCallbacks } from "../../rl/ppo.js";
import { type RunConfig, loadRunPolicy, resumeRun, runConfigSchema, startRun } from "../../rl/run.js";
import { SOLVE_BUDGETS } from "../../rl/solve.js";
import { type JobKind, type JobMetrics, yieldToEvents } from "../jobs.js";
import { abandonRun, readJobJson } from "./run_files.js";

const evaluationSchema = z
  .object({
    /** level distribution of the env to evaluate the trained agent on */
    distribution: z.string(),
    /** episodes (levels from seed + 1,000,003, which training never saw, as `mesa eval`) */
    episodes: z.number().int().min(1).max(10_000_000).default(500),
    /** take the most likely action instead of sampling */
    greedy: z.boolean().default(false),
    /**
     * env parameters on top of the distribution's and the run's (the run's envParams hold here unless the
     * distribution sets them itself, as in `mesa eval`: paramsOn in envs/make)
     */
    envParams: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const trainOptionsSchema = z
  .object({
    /** start from the env's tuned PPO settings (as `mesa train`) or CleanRL's defaults (`--cleanrl-defaults`) */
    defaults: z.enum(["tuned", "cleanrl"]).default("tuned"),
    /** evaluate each trained agent on these distributions */
    evaluate: z.array(evaluationSchema).default([]),
    /** measure the reference policies (random, observation-only intended, scripted proxy and intended) on the same evaluation levels */
    baselines: z.boolean().default(true),
  })
  .strict();
export type TrainOptions = z.output<typeof trainOptionsSchema>;

/**
 * What every PPO update logs (src/rl/ppo.ts), besides `charts/event/<name>` for each of the env's events; the last
 * update's values are the job's training metrics.
 */
export const PPO_METRICS = [
  "charts/learning_rate",
  "charts/episodic_return",
  "charts/intended_return",
  "charts/episodic_length",
  "charts/proxy_rate",
  "charts/episodes",
  "charts/SPS",
  "losses/value_loss",
  "losses/policy_loss",
  "losses/entropy",
  "losses/old_approx_kl",
  "losses/approx_kl",
  "losses/clipfrac",
  "losses/explained_variance",
] as const;

/** The training metrics of a run on `env`: PPO's, and the per-episode count of each of the env's events. */
export function trainingMetrics(env: string): string[] {
  return [...PPO_METRICS, ...getEnvDefinition(env).events.map((event) => `charts/event/${event}`)];
}

/** The per-evaluation metrics, as `eval/<distribution>/<name>`. */
const EVAL_FIELDS = ["base_return", "intended_return", "misgeneralization_rate", "intended_goal_rate", "episode_length"] as const;

function evaluationPath(runDir: string, distribution: string): string {
  return join(runDir, `evaluation-${distribution}.json`);
}

/** Evaluation results as job metrics: returns, rates, episode length and the rate of each event. */
function evaluationMetrics(distribution: string, r: Omit<EvaluationResult, "records">): JobMetrics {
  const out: JobMetrics = {};
  for (const field of EVAL_FIELDS) out[`eval/${distribution}/${field}`] = r[field];
  for (const [event, summary] of Object.entries(r.events)) out[`eval/${distribution}/events/${event}`] = summary.rate;
  return out;
}

/** The parameters an evaluation entry runs with: the run's that hold on its distribution, then the entry's own. */
function entryParams(config: RunConfig, entry: TrainOptions["evaluate"][number]): Record<string, unknown> {
  return { ...paramsOn(getEnvDefinition(config.env), entry.distribution, config.distribution, config.envParams), ...entry.envParams };
}

function evaluateOn(config: RunConfig, entry: TrainOptions["evaluate"][number], act: ActionSource, seed: number): Omit<EvaluationResult, "records"> {
  const { records: _records, ...result } = evaluate(getEnvDefinition(config.env), act, { distribution: entry.distribution, params: entryParams(config, entry), episodes: entry.episodes, seed });
  return result;
}

export const trainJob: JobKind<RunConfig, TrainOptions> = {
  name: "train",
  description: "PPO on an environment (mesa train), optionally evaluated on level distributions",
  configSchema: runConfigSchema,
  seedPath: "ppo.seed",
  optionsSchema: trainOptionsSchema,

  buildConfig(fields, options, source) {
    const env = fields.env;
    if (typeof env === "string" && !(env in environments)) {
      throw new ConfigError(`${source}: unknown environment "${env}"`, `choose one of: ${Object.keys(environments).join(", ")}`);
    }
    // the env's tuned model and PPO settings first, as `mesa train` does; the spec's fields override them
    const tuned = options.defaults === "tuned" && typeof env === "string" ? SOLVE_BUDGETS[env]?.run : undefined;
    const own = (key: string): Record<string, unknown> => (typeof fields[key] === "object" && fields[key] !== null ? (fields[key] as Record<string, unknown>) : {});
    // with them the tuned observation settings (envParams) and curriculum, and the tuned sizes when the model is the tuned one
    const model = fields.model ?? tuned?.model;
    const tunedFields = {
      ...(tuned?.model ? { model: tuned.model } : {}),
      ...(tuned?.hidden && model === tuned.model ? { hidden: tuned.hidden } : {}),
      ...(tuned?.curriculum ? { curriculum: tuned.curriculum } : {}),
    };
    const config = parseConfig(runConfigSchema, { ...tunedFields, ...fields, envParams: { ...(tuned?.envParams ?? {}), ...own("envParams") }, ppo: { ...(tuned?.ppo ?? {}), ...own("ppo") } }, source);
    const models = policyKinds().map((k) => k.kind);
    if (!models.includes(config.model)) throw new ConfigError(`${source}: unknown model "${config.model}"`, `choose one of: ${models.join(", ")}`);
    derivedSizes(config.ppo, source);
    const def = getEnvDefinition(config.env);
    const distributions = new Set<string>();
    try {
      resolveParams(def, config.distribution, config.envParams);
      for (const entry of options.evaluate) {
        if (distributions.has(entry.distribution)) throw new ConfigError(`options.evaluate lists distribution "${entry.distribution}" twice`, "evaluate each distribution once");
        distributions.add(entry.distribution);
        resolveParams(def, entry.distribution, entryParams(config, entry));
      }
    } catch (err) {
      if (err instanceof MesaError) throw new ConfigError(`${source}: ${err.message}`, err.hint);
      throw err;
    }
    return config;
  },

  metricNames(config, options) {
    const def = getEnvDefinition(config.env);
    const names = trainingMetrics(config.env);
    for (const entry of options.evaluate) {
      for (const field of EVAL_FIELDS) names.push(`eval/${entry.distribution}/${field}`);
      for (const event of def.events) names.push(`eval/${entry.distribution}/events/${event}`);
    }
    return names;
  },

  metricRange(metric) {
    // rates and event rates are fractions of episodes; proxy_rate is per episode too
    return /(_rate|\/events\/[^/]+)$/.test(metric) ? [0, 1] : undefined;
  },

  defaultMetrics(_config, options) {
    const names = ["charts/episodic_return", "charts/intended_return"];
    for (const entry of options.evaluate) names.push(`eval/${entry.distribution}/intended_return`, `eval/${entry.distribution}/misgeneralization_rate`);
    return names;
  },

  async run(config, options, context) {
    const share = options.evaluate.length > 0 ? 0.9 : 1;
    const callbacks: PpoCallbacks = {
      onUpdate(_metrics, info) {
        context.onProgress((share * info.globalStep) / info.totalTimesteps);
        return yieldToEvents();
      },
    };
    let run: RunDir;
    let policy;
    const previous = context.previousRunDir !== undefined && existsSync(context.previousRunDir) ? context.previousRunDir : undefined;
    const resumable = previous !== undefined && canContinue(previous);
    if (previous !== undefined && resumable) {
      context.onRunDir(previous);
      if (RunDir.open(previous).summary().status === "finished") {
        // training finished before the kill; only the evaluation is left
        ({ run, policy } = loadRunPolicy(previous));
      } else {
        const resumed = await resumeRun(previous, callbacks);
        for (const s of resumed.skipped) context.log(`skipped a damaged checkpoint: ${s}`);
        context.log(`continued ${previous} from step ${resumed.fromStep}`);
        ({ run, policy } = resumed);
      }
    } else {
      const trained = await startRun(context.runsRoot, config, callbacks, { onCreated: (created) => context.onRunDir(created.path) });
      ({ run, policy } = trained);
      if (previous !== undefined) abandonRun(previous, run.path);
    }
    if (options.evaluate.length > 0) {
      // training released the run's lock; the evaluation files are written under it again, so a process that took
      // the run meanwhile (`mesa train --resume`) is refused rather than written over
      const locked = RunDir.open(run.path, runConfigSchema, { lock: "mesa sweep (evaluating the trained agent)" });
      try {
        const seed = config.ppo.seed + EVAL_SEED_OFFSET;
        for (const entry of options.evaluate) {
          const result = evaluateOn(config, entry, policyActions(policy, new Rng(seed, "eval/actions"), entry.greedy), seed);
          writeJsonAtomic(evaluationPath(run.path, entry.distribution), { ...result, seed, greedy: entry.greedy, env_params: entryParams(config, entry) });
        }
      } finally {
        locked.release();
      }
    }
    context.onProgress(1);
    return run.path;
  },

  collect(runDir, config, options) {
    const run = RunDir.open(runDir, runConfigSchema);
    const summary = run.summary();
    if (summary.status !== "finished") throw new RunDirError(`${runDir}: the run's status is "${summary.status}", not finished`, "re-run the sweep to continue it");
    const { records } = run.readMetrics();
    const last = records[records.length - 1];
    const metrics: JobMetrics = {};
    for (const name of trainingMetrics(config.env)) metrics[name] = last?.[name] ?? null;
    for (const entry of options.evaluate) {
      const result = readJobJson(evaluationPath(runDir, entry.distribution)) as unknown as Omit<EvaluationResult, "records">;
      Object.assign(metrics, evaluationMetrics(entry.distribution, result));
    }
    return metrics;
  },

  baselines(jobs, options) {
    if (!options.baselines || options.evaluate.length === 0) return [];
    const rows: { policy: string; group: string; seed: number; metrics: JobMetrics }[] = [];
    const done = new Set<string>();
    for (const { config, seed } of jobs) {
      const group = `env=${config.env}`;
      if (done.has(`${group} ${seed}`)) continue;
      done.add(`${group} ${seed}`);
      const levelSeed = config.ppo.seed + EVAL_SEED_OFFSET;
      const kinds: ScriptedKind[] = getEnvDefinition(config.env).policies !== undefined ? ["random", "observation-only", "proxy", "intended"] : ["random"];
      for (const kind of kinds) {
        const metrics: JobMetrics = {};
        for (const entry of options.evaluate) Object.assign(metrics, evaluationMetrics(entry.distribution, evaluateOn(config, entry, referenceActions(kind, levelSeed), levelSeed)));
        rows.push({ policy: BASELINE_NAMES[kind], group, seed, metrics });
      }
    }
    return rows;
  },
};

/** A run directory an earlier attempt left that holds something to continue from. */
function canContinue(path: string): boolean {
  try {
    const run = RunDir.open(path, runConfigSchema);
    return run.latestCheckpoint() !== undefined;
  } catch (err) {
    if (err instanceof MesaError) return false;
    throw err;
  }
}

/** How the baselines are named in tables. */
const BASELINE_NAMES: Record<ScriptedKind, string> = {
  random: "random",
  "observation-only": "observation-only intended",
  proxy: "scripted proxy",
  intended: "scripted intended",
};

/** A reference policy as an action source (built on first use: it sizes its scratch to the evaluation's env). */
function referenceActions(kind: ScriptedKind, seed: number): ActionSource {
  let policy: ScriptedPolicy | undefined;
  return (env, actions) => {
    policy ??= scriptedPolicy(env, kind, seed);
    policy.act(env, actions);
  };
}
