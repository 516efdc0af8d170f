// What the interpretability commands (`mesa hooks|activations|probe|channels|patch|steer|retarget`) share:
// opening a trained run with a clear error when it has no checkpoint, resolving hook names, the object (goal)
// channel, the distribution, and writing JSON and PNG results into `<run>/interp/` (or --out).
import { existsSync, readdirSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import { CheckpointError, UsageError } from "../core/errors.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { getEnvDefinition, paramsOn } from "../envs/make.js";
import { assertWritableDir, writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { hookInfo, type HookInfo, resolveHooks } from "../interp/hooks.js";
import { channelIndex } from "../interp/observations.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { loadRunPolicy, type RunConfig } from "../rl/run.js";
import type { Command } from "commander";
import { collectParam, parseCount, parseKeyValues, parseSeed } from "./args.js";
import { checkPolicyObservation, EVAL_SEED_OFFSET } from "./eval.js";

export interface InterpRun {
  runDir: string;
  config: RunConfig;
  policy: ActorCritic;
  /** env steps of the checkpoint loaded */
  step: number;
  def: AnyEnvDefinition;
  hooks: HookInfo[];
}

/** Opens a run for analysis: its config and the newest valid checkpoint's policy. */
export function openInterpRun(runDir: string): InterpRun {
  const checkpoints = join(runDir, "checkpoints");
  if (existsSync(join(runDir, "config.json"))) {
    const files = existsSync(checkpoints) ? readdirSync(checkpoints).filter((f) => /^step-\d+\.safetensors$/.test(f)) : [];
    if (files.length === 0) {
      throw new CheckpointError(
        `run ${runDir} has no checkpoint: looked in ${checkpoints}/ for step-<N>.safetensors and found none`,
        "train it longer (checkpoints are written every ppo.checkpointEvery updates), or pass another run directory",
      );
    }
  }
  const { config, policy, step } = loadRunPolicy(runDir);
  const def = getEnvDefinition(config.env);
  // shapes from a real first observation of the run's own levels (a planner cannot plan on an empty grid)
  const env = new VecEnv(def, { n: 1, distribution: config.distribution, params: config.envParams });
  env.reset(config.ppo.seed);
  return { runDir, config, policy, step, def, hooks: hookInfo(policy, policy.obsShape, env.obs) };
}

/** --distribution, defaulting to `deploy` (where goal and proxy come apart) when the env has it. */
export function interpDistribution(run: InterpRun, requested: string | undefined): string {
  const names = Object.keys(run.def.distributions);
  const d = requested ?? (names.includes("deploy") ? "deploy" : run.config.distribution);
  if (!names.includes(d)) throw new UsageError(`${run.config.env} has no distribution "${d}" (--distribution)`, `choose one of: ${names.join(", ")}`);
  return d;
}

/** The run's environment parameters that apply on `distribution` (paramsOn), with --env-param overrides on top (the observation must keep the policy's shape). */
export function interpParams(run: InterpRun, pairs: readonly string[], distribution: string): Record<string, unknown> {
  const overrides = parseKeyValues(pairs, "--env-param");
  const params = { ...paramsOn(run.def, distribution, run.config.distribution, run.config.envParams), ...overrides };
  checkPolicyObservation(run.def, distribution, params, run.policy.obsShape, run.runDir, Object.keys(overrides));
  return params;
}

/** Memory the collected observations and activations of one analysis may take: a quarter of this machine's. */
const SAMPLE_MEMORY_BYTES = totalmem() / 4;
/** The longest typed array V8 allows (elements). */
const MAX_TYPED_ARRAY_LENGTH = 2 ** 32;

/**
 * `--samples` of an analysis, capped by memory before any work: each sample keeps its observation and the
 * activations of the hooks it reads (all of them when `hooks` is not given) as float32.
 */
export function parseSamples(run: InterpRun, value: string, flag = "--samples", hooks?: readonly string[]): number {
  const observation = run.policy.obsShape.reduce((a, b) => a * b, 1);
  const activations = run.hooks.filter((h) => hooks === undefined || hooks.includes(h.name)).reduce((a, h) => a + h.size, 0);
  const perSample = observation + activations;
  const max = Math.max(1, Math.floor(Math.min(MAX_TYPED_ARRAY_LENGTH, SAMPLE_MEMORY_BYTES / 4) / perSample));
  return parseCount(value, flag, { max, example: String(Math.min(max, 1000)) });
}

/** Hook names from a comma-separated --hook value (exact names or `*` patterns). */
export function interpHooks(run: InterpRun, value: string, flag = "--hook"): string[] {
  return resolveHooks(
    run.hooks.map((h) => h.name),
    value.split(",").map((s) => s.trim()).filter(Boolean),
    `list them with \`mesa hooks ${run.runDir}\` (--filter TEXT narrows the list); ${flag} takes names or patterns like 'trunk.*'`,
  );
}

/** The spatial hooks ([C, h, w]) of the run's policy; a UsageError when it has none. */
export function spatialHookNames(run: InterpRun): string[] {
  const names = run.hooks.filter((h) => h.shape.length === 3).map((h) => h.name);
  if (names.length === 0) {
    throw new UsageError(
      `the ${run.policy.kind} policy of ${run.runDir} has no spatial hook points (activations [C, h, w]); its hooks: ${run.hooks.map((h) => `${h.name} [${h.shape.join(", ")}]`).join(", ")}`,
      "this analysis needs a convolutional policy: train one with --model cnn",
    );
  }
  return names;
}

/** The observation channel of the goal object (--object, default "cheese" when the env has it). */
export function objectChannel(run: InterpRun, name: string | undefined): { name: string; index: number } {
  const channels = run.def.channels;
  const object = name ?? (channels.includes("cheese") ? "cheese" : undefined);
  if (object === undefined) throw new UsageError(`${run.config.env} has no "cheese" channel; name the goal object`, `pass --object with one of: ${channels.join(", ")}`);
  try {
    return { name: object, index: channelIndex(channels, object) };
  } catch {
    throw new UsageError(`${run.config.env}'s observation has no channel "${object}"`, `--object takes one of: ${channels.join(", ")}`);
  }
}

/** Where results go: --out, or `<run>/interp/`. */
export function interpOut(run: InterpRun, out: string | undefined): string {
  return out ?? join(run.runDir, "interp");
}

/** Writes `<dir>/<name>.json` and the PNGs `<dir>/<name>-<key>.png`; returns the paths written. */
export function writeInterpResults(dir: string, name: string, json: unknown, pngs: Record<string, Buffer> = {}): { json: string; png: string[] } {
  const jsonPath = join(dir, `${name}.json`);
  writeJsonAtomic(jsonPath, json);
  const png: string[] = [];
  for (const [key, bytes] of Object.entries(pngs)) {
    const p = join(dir, `${name}${key ? `-${key}` : ""}.png`);
    writeFileAtomic(p, bytes);
    png.push(p);
  }
  return { json: jsonPath, png };
}

/** A file-name-safe version of a hook name or label. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** Provenance stored with every result. */
export function provenance(run: InterpRun): Record<string, unknown> {
  return { run_dir: run.runDir, checkpoint_step: run.step, env: run.config.env, model: run.policy.spec };
}

/** Flags every analysis command shares (the same words as `mesa eval` and `mesa train`). */
export interface AnalysisFlags {
  distribution?: string;
  seed?: string;
  envParam: string[];
  out?: string;
  json?: boolean;
}

/** Adds the shared flags: --distribution, --seed, --env-param, --out, --json. */
export function withAnalysisFlags(cmd: Command): Command {
  return cmd
    .option("--distribution <name>", "level distribution (default: deploy, where goal and proxy come apart)")
    .option("--seed <n>", `level seed (default: the run's seed + ${EVAL_SEED_OFFSET}, levels training never saw)`)
    .option("--env-param <key=value>", "environment parameter override (repeatable)", collectParam, [] as string[])
    .option("--out <dir>", "directory for results (default: <run_dir>/interp)")
    .option("--json", "print one JSON object");
}

/**
 * The levels an analysis runs on: distribution, environment parameters and level seed, from the shared flags.
 * Checks the results folder too, so a read-only run or a bad --out is refused before any work.
 */
export function analysisLevels(run: InterpRun, flags: AnalysisFlags): { distribution: string; params: Record<string, unknown>; seed: number } {
  const distribution = interpDistribution(run, flags.distribution);
  const out = interpOut(run, flags.out);
  assertWritableDir(out, flags.out ? `--out ${out}` : `the results folder (${out})`, "write the results elsewhere with --out DIR");
  return {
    distribution,
    params: interpParams(run, flags.envParam, distribution),
    seed: flags.seed !== undefined ? parseSeed(flags.seed) : run.config.ppo.seed + EVAL_SEED_OFFSET,
  };
}
