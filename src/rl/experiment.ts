// The misgeneralization curve: train PPO at several values of one training-distribution parameter (coin-run's
// randomCoinFraction by default — how often the coin is somewhere other than the end in training), several
// seeds each, evaluate every agent on the deploy distribution, and average over seeds with 95% intervals.
// Langosco et al. 2022 found misgeneralization falling as a few percent of training levels move the coin.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { readJsonObject } from "../io/json.js";
import { getEnvDefinition, paramsOn } from "../envs/make.js";
import { EVAL_SEED_OFFSET, type EvaluationResult, evaluate, policyActions } from "./evaluate.js";
import { renderLinePlot } from "../io/plot.js";
import type { PpoCallbacks } from "./ppo.js";
import { type RunConfig, type RunConfigInput, resumeRun, startRun, type TrainedRun, validateRunConfig } from "./run.js";
import { meanInterval } from "./stats.js";
import { BASELINE_KINDS, baselines, type PolicyFigures, policyFigures } from "./validate.js";
import { untrainedChannelColumns } from "./weights.js";

export interface SweepOptions {
  env: string;
  /** the training-distribution parameter swept */
  param: string;
  values: readonly number[];
  seeds: number;
  /** the first training seed; runs use seeds firstSeed … firstSeed + seeds − 1 (default 1) */
  firstSeed?: number;
  /** env steps per training run */
  steps: number;
  /** deploy episodes per trained agent */
  episodes: number;
  /** where runs, results.json and the plot go */
  out: string;
  /** PPO and model settings on top of the defaults (base.envParams: fixed env parameters under the swept one) */
  base?: Partial<RunConfigInput>;
  /** progress callbacks factory per run */
  progress?: (label: string) => PpoCallbacks & { stop?(): void };
  /** when aborted, the current training stops with a checkpoint and the sweep ends (result: undefined) */
  signal?: AbortSignal;
}

export interface SweepPoint {
  value: number;
  /** per-seed deploy misgeneralization rates */
  rates: number[];
  misgeneralization_rate: number;
  misgeneralization_ci95: [number, number];
  intended_goal_rate: number;
  intended_goal_ci95: [number, number];
  /** mean train-distribution intended return at the end of training (from the last update's episodes) */
  train_return: number;
  /** MLP agents only: mean fraction of the goal channel's observation cells whose first-layer actor weights never moved from init */
  goal_columns_untrained: number | null;
  runs: string[];
}

export interface SweepResult {
  env: string;
  param: string;
  seeds: number;
  /** the reference policies on the same deploy levels (seed of the first agent's evaluation) */
  baselines: Record<string, PolicyFigures>;
  /** env steps each training ran (the requested steps rounded down to whole PPO updates) */
  steps: number;
  /** env steps per training as requested */
  steps_requested: number;
  episodes: number;
  points: SweepPoint[];
  plot: string;
  results: string;
}

/** The run config of one training of the sweep: the swept value on the train levels, seed `seed`. */
export function sweepRunConfig(options: Pick<SweepOptions, "env" | "param" | "steps" | "base">, value: number, seed: number): RunConfigInput {
  return {
    ...options.base,
    env: options.env,
    distribution: "train",
    envParams: { ...(options.base?.envParams ?? {}), [options.param]: value },
    ppo: { ...(options.base?.ppo ?? {}), seed, totalTimesteps: options.steps },
  };
}

/** Which run directory trains each (value, seed) of a sweep, with the settings it was started with. */
type Trainings = Record<string, { run: string; config: string }>;

/** The sweep's record of its trainings, `trainings.json` in the output folder ({} for a new sweep). */
function readTrainings(path: string): Trainings {
  if (!existsSync(path)) return {};
  return readJsonObject(path, { missing: "", damaged: "delete it to train every (value, seed) again, or use a new --out folder" }) as Trainings;
}

/**
 * Trains one (value, seed) of the sweep, or continues it: a run the same sweep started earlier (recorded in
 * `trainings.json`) resumes from its newest checkpoint, and a finished one is loaded as it is — so a killed or
 * interrupted sweep, run again with the same command, redoes nothing it had finished. A recorded run with other
 * settings (the same --out with different flags) is refused rather than mixed into the curve.
 */
async function trainOrContinue(options: SweepOptions, trainings: Trainings, key: string, input: RunConfigInput, progress: PpoCallbacks): Promise<TrainedRun> {
  const manifest = join(options.out, "trainings.json");
  const config = JSON.stringify(validateRunConfig(input).config);
  const previous = trainings[key];
  const signal = options.signal ? { signal: options.signal } : {};
  if (previous !== undefined && existsSync(previous.run)) {
    if (previous.config !== config) {
      throw new ConfigError(
        `${options.out} already holds the training "${key}" (${previous.run}) with other settings than this sweep's`,
        "use a new --out folder for a sweep with other settings, or the same flags to continue this one",
      );
    }
    return resumeRun(previous.run, progress, signal);
  }
  return startRun(join(options.out, "runs"), input, progress, {
    ...signal,
    onCreated: (run) => {
      trainings[key] = { run: run.path, config };
      writeJsonAtomic(manifest, trainings);
    },
  });
}

/**
 * Runs the sweep; each (value, seed) trains into its own run directory under `out/runs` (recorded in
 * `out/trainings.json`: the same sweep run again continues its trainings instead of starting them over). Every
 * training's config is validated before the first one starts, so a bad value fails at once, not when the sweep
 * reaches it.
 * Returns undefined when `options.signal` stopped it.
 */
export async function misgeneralizationSweep(options: SweepOptions): Promise<SweepResult | undefined> {
  const def = getEnvDefinition(options.env);
  let stepsRun = options.steps;
  for (const value of options.values) stepsRun = validateRunConfig(sweepRunConfig(options, value, 1), { source: `${options.param}=${value}` }).steps;
  const points: SweepPoint[] = [];
  const trainings = readTrainings(join(options.out, "trainings.json"));
  for (const value of options.values) {
    const evals: EvaluationResult[] = [];
    const trainReturns: number[] = [];
    const runs: string[] = [];
    const untrained: number[] = [];
    const firstSeed = options.firstSeed ?? 1;
    for (let seed = firstSeed; seed < firstSeed + options.seeds; seed++) {
      const label = `${options.param}=${value} seed ${seed - firstSeed + 1}/${options.seeds}`;
      const progress = options.progress?.(label) ?? {};
      let trained;
      try {
        trained = await trainOrContinue(options, trainings, `${options.param}=${value} seed ${seed}`, sweepRunConfig(options, value, seed), progress);
      } finally {
        progress.stop?.();
      }
      if (trained.interrupted) return undefined;
      runs.push(trained.run.path);
      if (def.goalChannel) {
        const cols = untrainedChannelColumns(trained.run.config as RunConfig, trained.policy, def.goalChannel);
        if (cols) untrained.push(cols.actor_unchanged / cols.cells);
      }
      trainReturns.push(trained.result.last["charts/intended_return"] ?? Number.NaN);
      // deploy levels keep the run's parameters except those deploy sets itself (its coin placement): a swept
      // training-only parameter such as randomCoinFraction never leaks into the deploy levels
      evals.push(
        evaluate(def, policyActions(trained.policy, new Rng(seed, "experiment/eval")), {
          distribution: "deploy",
          params: paramsOn(def, "deploy", "train", (trained.run.config as RunConfig).envParams),
          episodes: options.episodes,
          seed: EVAL_SEED_OFFSET + seed,
        }),
      );
    }
    const rates = evals.map((e) => e.misgeneralization_rate);
    const mis = meanInterval(rates);
    const goal = meanInterval(evals.map((e) => e.intended_goal_rate));
    points.push({
      value,
      rates,
      misgeneralization_rate: mis.value,
      misgeneralization_ci95: clamp01(mis.ci95),
      intended_goal_rate: goal.value,
      intended_goal_ci95: clamp01(goal.ci95),
      train_return: meanInterval(trainReturns.filter(Number.isFinite)).value,
      goal_columns_untrained: untrained.length > 0 ? untrained.reduce((a, b) => a + b, 0) / untrained.length : null,
      runs,
    });
  }

  // the reference policies on the deploy levels of the first seed's evaluation
  const refs = baselines(def, { distribution: "deploy", params: paramsOn(def, "deploy", "train", options.base?.envParams ?? {}), episodes: options.episodes, seed: EVAL_SEED_OFFSET + (options.firstSeed ?? 1) }, BASELINE_KINDS);
  const baselineFigures = Object.fromEntries(Object.entries(refs).map(([kind, r]) => [kind, policyFigures(r)]));
  const plot = join(options.out, "misgeneralization.png");
  writeFileAtomic(
    plot,
    renderLinePlot({
      title: `${options.env}: deploy episodes vs training ${options.param}`,
      xLabel: `${options.param} of the training levels (mean of ${options.seeds} seeds, 95% CI)`,
      yLabel: "fraction of episodes",
      yRange: [0, 1],
      series: [
        { name: "misgeneralized", color: [200, 40, 40], points: points.map((p) => ({ x: p.value, y: p.misgeneralization_rate, lo: p.misgeneralization_ci95[0], hi: p.misgeneralization_ci95[1] })) },
        { name: "intended goal", color: [40, 90, 200], points: points.map((p) => ({ x: p.value, y: p.intended_goal_rate, lo: p.intended_goal_ci95[0], hi: p.intended_goal_ci95[1] })) },
      ],
    }),
  );
  const result: SweepResult = { env: options.env, param: options.param, seeds: options.seeds, baselines: baselineFigures, steps: stepsRun, steps_requested: options.steps, episodes: options.episodes, points, plot, results: join(options.out, "results.json") };
  writeFileAtomic(result.results, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

function clamp01([lo, hi]: [number, number]): [number, number] {
  // with a single seed the t interval is unbounded; a rate's interval never leaves [0, 1]
  return [Number.isFinite(lo) ? Math.max(0, lo) : 0, Number.isFinite(hi) ? Math.min(1, hi) : 1];
}
