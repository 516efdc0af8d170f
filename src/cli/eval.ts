// `mesa eval RUN_DIR [--distribution deploy] [--env-param k=v] [--episodes 1000] [--json]`: evaluates a trained
// run's newest valid checkpoint on a level distribution — base return, intended return, event rates and the
// misgeneralization rate with 95% intervals — and records a few episodes as JSON, an animated GIF and a PNG
// strip each. `--env-param` changes the levels on top of the run's own parameters (one maze size, another cheese
// region) as long as the observation keeps the policy's shape. Flags and the recording folder are checked before the first episode; a damaged newest
// checkpoint is named in a warning and the table says which checkpoint was evaluated.
import { basename, join } from "node:path";
import type { Command } from "commander";
import { Rng } from "../core/rng.js";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition, paramsOn } from "../envs/make.js";
import { assertWritableDir } from "../io/atomic.js";
import { EVAL_SEED_OFFSET, type EvaluationResult, evaluate, policyActions } from "../rl/evaluate.js";
import { writeEpisodeFiles } from "../rl/pictures.js";
import { loadRunPolicy } from "../rl/run.js";
import { BASELINE_TITLES, baselines } from "../rl/validate.js";
import { type AnyEnvDefinition, VecEnv, resolveParams } from "../envs/engine.js";
import { envParamOption, envParams, parseCount, parseInteger, parseSeed } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { evaluationProgress } from "./progress.js";

/** Where evaluation levels start (re-exported: other commands seed the same way). */
export { EVAL_SEED_OFFSET };

/** The --json object: base_return, intended_return, misgeneralization_rate, misgeneralization_ci95, events, episodes and more. */
export function evaluationJson(r: EvaluationResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { records: _records, ...rest } = r;
  return { ...rest, ...extra };
}

const ci = (c: [number, number]): string => `[${formatNumber(c[0])}, ${formatNumber(c[1])}]`;

/**
 * The baselines (random, observation-only intended, scripted proxy) on the same levels as an agent's
 * evaluation, as { titles, results, json } for tables and --json output.
 */
export function evaluationBaselines(
  def: AnyEnvDefinition,
  options: { distribution: string; params?: Record<string, unknown>; episodes: number; seed: number },
): { titles: string[]; results: EvaluationResult[]; json: Record<string, Record<string, unknown>> } {
  const found = baselines(def, options);
  const kinds = Object.keys(found) as (keyof typeof found)[];
  return {
    titles: kinds.map((k) => BASELINE_TITLES[k]),
    results: kinds.map((k) => found[k]!),
    json: Object.fromEntries(kinds.map((k) => [k, evaluationJson(found[k]!)])),
  };
}

/** Rows of the readable evaluation table for one or more evaluations side by side. */
export function evaluationRows(results: readonly EvaluationResult[]): (string | number)[][] {
  const rows: (string | number)[][] = [
    ["base return (mean, 95% CI)", ...results.map((r) => `${formatNumber(r.base_return)} ${ci(r.base_return_ci95)}`)],
    ["intended return", ...results.map((r) => `${formatNumber(r.intended_return)} ${ci(r.intended_return_ci95)}`)],
    ["intended goal reached", ...results.map((r) => `${formatNumber(r.intended_goal_rate)} ${ci(r.intended_goal_ci95)}`)],
    ["misgeneralization rate", ...results.map((r) => `${formatNumber(r.misgeneralization_rate)} ${ci(r.misgeneralization_ci95)}`)],
    ["episode length", ...results.map((r) => formatNumber(r.episode_length))],
  ];
  for (const name of Object.keys(results[0]?.events ?? {})) {
    rows.push([`event ${name} (episodes with it)`, ...results.map((r) => formatNumber(r.events[name]?.rate ?? 0))]);
  }
  return rows;
}

/**
 * Refuses environment parameters under which `distribution`'s observation no longer has the shape the policy of
 * `runDir` reads (e.g. a --env-param that changes the grid size), naming both shapes.
 */
export function checkPolicyObservation(def: AnyEnvDefinition, distribution: string, params: Record<string, unknown>, policyObsShape: readonly number[], runDir: string, flagged: readonly string[] = []): void {
  // validated first with the --env-param keys labelled, so a bad value is reported under the flag the user wrote
  resolveParams(def, distribution, params, Object.fromEntries(flagged.map((k) => [k, `--env-param ${k}`])));
  const shape = new VecEnv(def, { n: 1, distribution, params }).obsShape;
  if (shape.length !== policyObsShape.length || shape.some((s, k) => s !== policyObsShape[k])) {
    throw new UsageError(
      `with these environment parameters the observation is [${shape.join(", ")}], but the policy of ${runDir} reads [${policyObsShape.join(", ")}]`,
      "keep the parameters that set the grid size or the view (e.g. maxCells, view) as the run had them",
    );
  }
}

interface EvalOptions {
  distribution?: string;
  envParam?: string[];
  param?: string[];
  episodes: string;
  seed?: string;
  greedy?: boolean;
  record: string;
  out?: string;
  json?: boolean;
}

/** Episodes an evaluation can record: one per parallel env copy. */
export const MAX_RECORDED_EPISODES = 64;

export function register(program: Command): void {
  const command = program
    .command("eval")
    .description("evaluate a trained run on a level distribution: returns, events and the misgeneralization rate with 95% CIs")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--distribution <name>", "level distribution (default: the one the run trained on)");
  envParamOption(command)
    .option("--episodes <n>", "episodes to run", "1000")
    .option("--seed <n>", `level seed, 0 … 2^32−1 (default: the run's seed + ${EVAL_SEED_OFFSET}, levels training never saw)`)
    .option("--greedy", "take the most likely action instead of sampling")
    .option("--record <n>", `episodes to record as JSON, GIF and PNG, 0 … ${MAX_RECORDED_EPISODES}`, "3")
    .option("--out <dir>", "folder for the recorded episodes (default: <run_dir>/episodes)")
    .option("--json", "print one JSON object")
    .action((runDir: string, opts: EvalOptions) => {
      // every flag first, then the run, then the recording folder: nothing runs until all of it is known good
      const episodes = parseCount(opts.episodes, "--episodes", { example: "1000" });
      const record = parseInteger(opts.record, "--record", { min: 0, max: MAX_RECORDED_EPISODES, example: "3" });
      const explicitSeed = opts.seed !== undefined ? parseSeed(opts.seed) : undefined;
      const overrides = envParams(opts);
      const loaded = loadRunPolicy(runDir);
      const { config, policy, step } = loaded;
      const def = getEnvDefinition(config.env);
      const distribution = opts.distribution ?? config.distribution;
      if (!(distribution in def.distributions)) {
        throw new UsageError(`${config.env} has no distribution "${distribution}" (--distribution)`, `choose one of: ${Object.keys(def.distributions).join(", ")}`);
      }
      const outDir = opts.out ?? join(runDir, "episodes");
      if (record > 0) {
        assertWritableDir(outDir, opts.out ? `--out ${outDir}` : `recorded episodes (${outDir})`, "record to a writable folder with --out DIR, or pass --record 0 to record nothing");
      }
      const seed = explicitSeed ?? config.ppo.seed + EVAL_SEED_OFFSET;
      // the run's parameters, less those the evaluated distribution sets itself (deploy places its own coin):
      // one rule (paramsOn) for every command that reads a run on another distribution
      // and --env-param on top (e.g. one maze size: minCells=7 capCells=7), keeping the policy's observation shape
      const params = { ...paramsOn(def, distribution, config.distribution, config.envParams), ...overrides };
      checkPolicyObservation(def, distribution, params, policy.obsShape, runDir, Object.keys(overrides));
      for (const s of loaded.skipped) log(`warning: the newer checkpoint ${s} — evaluating ${basename(loaded.checkpointPath)} instead`);
      const { activity } = loaded;
      if (activity.holder) log(`note: ${runDir} is still training (PID ${activity.holder.pid}); evaluating its newest checkpoint, ${basename(loaded.checkpointPath)}`);
      else if (activity.killed) log(`note: ${runDir} was stopped before it finished (killed); evaluating its newest checkpoint, ${basename(loaded.checkpointPath)}`);
      else if (activity.status !== "finished") log(`note: ${runDir} is ${activity.status}; evaluating its newest checkpoint, ${basename(loaded.checkpointPath)}`);

      const progress = evaluationProgress(`eval ${config.env}/${distribution}`);
      let result: EvaluationResult;
      try {
        result = evaluate(def, policyActions(policy, new Rng(seed, "eval/actions"), opts.greedy ?? false), {
          distribution,
          params,
          episodes,
          seed,
          record,
          onProgress: progress.onProgress,
        });
      } finally {
        progress.stop();
      }
      const files: string[] = [];
      result.records.forEach((r, k) => {
        const written = writeEpisodeFiles(join(outDir, `${distribution}-${k}`), r);
        files.push(written.json, written.gif, written.png);
      });
      const checkpoint = basename(loaded.checkpointPath);
      const base = evaluationBaselines(def, { distribution, params, episodes, seed });
      if (opts.json) {
        printJson(evaluationJson(result, { run_dir: runDir, checkpoint_step: step, checkpoint: loaded.checkpointPath, skipped_checkpoints: loaded.skipped, seed, env_params: params, recorded: files, baselines: base.json }));
        return;
      }
      process.stdout.write(
        `${formatTable(["", `agent: ${config.env} / ${distribution} (${episodes} episodes, ${checkpoint}${loaded.skipped.length > 0 ? ", newer damaged" : ""})`, ...base.titles], evaluationRows([result, ...base.results]))}\n` +
          "The baselines ran on the same levels: what the numbers would be without learning (random), pursuing the intended goal from the observation alone, and pursuing the proxy on purpose.\n",
      );
      if (files.length > 0) log(`recorded ${result.records.length} episodes (JSON, GIF, PNG strip): ${outDir}/`);
    });
}
