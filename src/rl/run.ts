// PPO runs on disk: validate a run's config completely before anything is written, start a run in a run
// directory (config.json, metrics.jsonl, checkpoints) under its lock, resume one from its newest valid
// checkpoint, stop one gracefully on an AbortSignal, and load a trained policy back for evaluation. The CLI
// commands (`mesa train`, `mesa eval`, `mesa experiment`, `mesa demo`) are thin callers of these functions.
import { readFileSync, rmSync } from "node:fs";
import { totalmem } from "node:os";
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { CheckpointError, ConfigError, DivergenceError, RunDirError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { VecEnv, resolveParams } from "../envs/engine.js";
import { getEnvDefinition } from "../envs/make.js";
import { type LoadedCheckpoint, type RunActivity, RunDir } from "../io/rundir.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import "../nn/models/mlp_policy.js";
import "../nn/models/cnn_policy.js";
import "../nn/models/planner.js";
import { type ActorCritic, createPolicy, policyKinds } from "../nn/models/policy.js";
import { checkpointMeta, loadPolicyWeights, restorePpoCheckpoint, savePpoCheckpoint } from "./checkpoint.js";
import { derivedSizes, ppoConfigSchema, type PpoSizes } from "./config.js";
import { type PpoCallbacks, type PpoMetrics, type PpoResult, type PpoState, trainPPO } from "./ppo.js";
import { Curriculum, checkCurriculum, curriculumStageSchema } from "./curriculum.js";

/** Checkpoints a run keeps by default: a few, so a damaged newest one still has an older one behind it. */
export const DEFAULT_KEEP_CHECKPOINTS = 3;

export const runConfigSchema = z
  .object({
    /** environment name, e.g. coin-run */
    env: z.string(),
    /** level distribution trained on */
    distribution: z.string().default("train"),
    /** environment parameter overrides on top of the distribution */
    envParams: z.record(z.string(), z.unknown()).default({}),
    /** policy model kind (mlp, cnn, planner) */
    model: z.string().default("mlp"),
    /** model-specific settings (the planner's iterations, gamma, backup, …), validated by the model */
    modelParams: z.record(z.string(), z.unknown()).default({}),
    /** hidden sizes / channel widths (default: the model's) */
    hidden: z.array(z.number().int().positive()).optional(),
    /** PPO hyperparameters */
    ppo: ppoConfigSchema,
    /** easier levels first (see rl/curriculum.ts): stages by fraction of the run, each with its env parameters; [] trains on the run's levels throughout */
    curriculum: z.array(curriculumStageSchema).default([]),
    /** checkpoints kept on disk: the newest N (the final one is always the newest); null keeps all */
    keepCheckpoints: z.number().int().positive().nullable().default(DEFAULT_KEEP_CHECKPOINTS),
  })
  .strict();
export type RunConfig = z.output<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

export interface TrainedRun {
  run: RunDir;
  policy: ActorCritic;
  result: PpoResult;
  /** the run stopped early on its AbortSignal (a checkpoint was written; status "interrupted") */
  interrupted: boolean;
}

/** How a run is started or resumed. */
export interface RunOptions {
  /** when aborted, training stops after the current update, writes a checkpoint and marks the run "interrupted" */
  signal?: AbortSignal;
  /** what to call the config in errors (default "run config") */
  source?: string;
  /** run-config paths → what the user wrote (`ppo.numEnvs` → `--num-envs`), so errors name flags */
  labels?: Readonly<Record<string, string>>;
  /** describes the lock holder in the lock file (default: this process's command line) */
  command?: string;
  /** learns the new run directory before training starts (startRun) */
  onCreated?: (run: RunDir) => void;
}

/** A run config checked completely — schema, env and parameters, model, batch sizes, memory — before any work. */
export interface ValidatedRun {
  config: RunConfig;
  sizes: PpoSizes;
  /** env steps the run will take: whole updates, totalTimesteps rounded down to a multiple of the batch */
  steps: number;
  /** set when `steps` differs from the requested totalTimesteps: says so and why */
  stepsNote: string | undefined;
}

/** Memory a training run may plan for: three quarters of this machine's. */
const MEMORY_BUDGET_BYTES = 0.75 * totalmem();
/** The longest typed array V8 allows (elements). */
const MAX_TYPED_ARRAY_LENGTH = 2 ** 32;

function ppoNames(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, label] of Object.entries(labels ?? {})) if (path.startsWith("ppo.")) out[path.slice(4)] = label;
  return out;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;

/**
 * Checks everything a run needs before any directory is made or step taken: the config schema, the environment,
 * distribution and parameters, the model kind, that the budget makes at least one update, and that the rollout
 * buffers fit in memory. Errors name flags when `options.labels` maps the fields to them.
 */
export function validateRunConfig(input: RunConfigInput, options: Pick<RunOptions, "source" | "labels"> = {}): ValidatedRun {
  const source = options.source ?? "run config";
  const labels = options.labels;
  const config = parseConfig(runConfigSchema, input, source, labels);
  const label = (path: string, fallback: string): string => labels?.[path] ?? fallback;
  if (!policyKinds().some((k) => k.kind === config.model)) {
    throw new ConfigError(`${source}: unknown model "${config.model}" (${label("model", "model")})`, `choose one of: ${policyKinds().map((k) => k.kind).join(", ")}`);
  }
  const def = getEnvDefinition(config.env);
  if (!(config.distribution in def.distributions)) {
    throw new ConfigError(`${source}: ${config.env} has no distribution "${config.distribution}"${labels?.distribution ? ` (${labels.distribution})` : ""}`, `choose one of: ${Object.keys(def.distributions).join(", ")}`);
  }
  // each overridden parameter named as the user wrote it (`--env-param coins`, or a sweep's own flag)
  const paramLabels: Record<string, string> = {};
  for (const key of Object.keys(config.envParams)) {
    const own = labels?.[`envParams.${key}`] ?? (labels?.envParams ? `${labels.envParams} ${key}` : undefined);
    if (own !== undefined) paramLabels[key] = own;
  }
  resolveParams(def, config.distribution, config.envParams, paramLabels);
  checkCurriculum(def, config.distribution, config.envParams, config.curriculum, source, label("curriculum", "curriculum"));
  const probe = new VecEnv(def, { n: 1, distribution: config.distribution, params: config.envParams });
  const obsSize = probe.obsShape[0] * probe.obsShape[1] * probe.obsShape[2];
  const sizes = derivedSizes(config.ppo, source, ppoNames(labels));
  // the rollout buffer and one minibatch hold observations as float32; each env copy holds its own grids
  const rolloutFloats = sizes.batchSize * obsSize;
  const bytes = rolloutFloats * 4 + sizes.batchSize * 36 + sizes.minibatchSize * (obsSize * 4 + 24) + config.ppo.numEnvs * obsSize * 6;
  if (rolloutFloats > MAX_TYPED_ARRAY_LENGTH || bytes > MEMORY_BUDGET_BYTES) {
    const envs = label("ppo.numEnvs", "numEnvs");
    throw new ConfigError(
      `${source}: ${envs} ${config.ppo.numEnvs} × ${config.ppo.numSteps} steps per rollout × ${obsSize} observation values needs ${gib(bytes)} for the rollout buffer; ` +
        `this machine allows ${gib(Math.min(MEMORY_BUDGET_BYTES, MAX_TYPED_ARRAY_LENGTH * 4))}`,
      `lower ${envs}`,
    );
  }
  const steps = sizes.numIterations * sizes.batchSize;
  const stepsNote =
    steps === config.ppo.totalTimesteps
      ? undefined
      : `${label("ppo.totalTimesteps", "totalTimesteps")} ${config.ppo.totalTimesteps} is rounded down to whole PPO updates: ${steps} env steps ` +
        `(${sizes.numIterations} update${sizes.numIterations === 1 ? "" : "s"} of ${config.ppo.numEnvs} envs × ${config.ppo.numSteps} steps)`;
  return { config, sizes, steps, stepsNote };
}

/**
 * Builds the env and a freshly initialised policy a run config describes (validating names first). With a
 * curriculum, `env` is the env of the stage that update `afterUpdate` trained on (0: the first update's).
 */
export function buildRun(config: RunConfig, afterUpdate = 0): { env: VecEnv; policy: ActorCritic; curriculum: Curriculum | undefined } {
  const def = getEnvDefinition(config.env);
  const curriculum = config.curriculum.length > 0 ? new Curriculum(def, config.distribution, config.envParams, config.curriculum, config.ppo.numEnvs) : undefined;
  const env = curriculum ? curriculum.envFor(curriculum.stageOf(afterUpdate, derivedSizes(config.ppo).numIterations)) : new VecEnv(def, { n: config.ppo.numEnvs, distribution: config.distribution, params: config.envParams });
  const policy = createPolicy(
    {
      kind: config.model,
      obsShape: [...env.obsShape],
      numActions: env.numActions,
      env: {
        channels: [...env.channels],
        agentChannel: def.agent.channel,
        actions: [...env.actionNames],
        ...(def.observedMoves ? { dynamics: config.env } : {}),
        // recorded in the spec (and so in every checkpoint): a later change of the env's hints leaves trained planners as they were
        ...(def.planning ? { planning: { horizon: def.planning.horizon(env.params), ...(def.planning.discount !== undefined ? { discount: def.planning.discount } : {}) } } : {}),
      },
      options: config.modelParams,
      ...(config.hidden ? { hidden: config.hidden } : {}),
    },
    new Rng(config.ppo.seed, "init"),
  );
  return { env, policy, curriculum };
}

/** Callbacks that log metrics and write (and prune to the newest `keep`, null: all) checkpoints into `run`, then call `extra`'s. */
export function runCallbacks(run: RunDir, policy: ActorCritic, keep: number | null, extra: PpoCallbacks, signal: AbortSignal | undefined): PpoCallbacks {
  return {
    async onUpdate(metrics, info) {
      run.appendMetrics({ global_step: info.globalStep, ...metrics });
      const answer = await extra.onUpdate?.(metrics, info);
      return signal?.aborted ? "stop" : answer;
    },
    async onCheckpoint(state, env) {
      savePpoCheckpoint(run, policy, env, state);
      run.pruneCheckpoints(keep);
      await extra.onCheckpoint?.(state, env);
    },
  };
}

/** Trains in `run` (whose lock this process holds) and always releases the lock; the summary says how it ended. */
async function train(run: RunDir, built: ReturnType<typeof buildRun>, config: RunConfig, callbacks: PpoCallbacks, options: RunOptions & { fresh: boolean }): Promise<TrainedRun> {
  const { env, policy, curriculum } = built;
  let result: PpoResult;
  try {
    try {
      result = await trainPPO(env, policy, config.ppo, {
        ...runCallbacks(run, policy, config.keepCheckpoints, callbacks, options.signal),
        ...(callbacks.resume ? { resume: callbacks.resume } : {}),
        ...(curriculum ? { curriculum } : {}),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (options.fresh && !(err instanceof DivergenceError) && run.listCheckpoints().length === 0 && run.readMetrics().records.length === 0) {
        // rejected before its first update: nothing worth keeping, so leave nothing behind
        run.release();
        rmSync(run.path, { recursive: true, force: true });
      } else {
        run.updateSummary({ status: "failed", error: message });
      }
      throw err;
    }
    const last: PpoMetrics = result.last;
    const interrupted = result.updates < derivedSizes(config.ppo).numIterations;
    run.updateSummary({
      status: interrupted ? "interrupted" : "finished",
      global_step: result.globalStep,
      updates: result.updates,
      episodic_return: last["charts/episodic_return"] ?? null,
      intended_return: last["charts/intended_return"] ?? null,
    });
    return { run, policy, result, interrupted };
  } finally {
    run.release();
  }
}

/** Creates `root/<env>__ppo__<seed>__<time>/` and trains in it; the config is validated before anything is written. */
export async function startRun(root: string, input: RunConfigInput, callbacks: PpoCallbacks = {}, options: RunOptions = {}): Promise<TrainedRun> {
  const { config } = validateRunConfig(input, options);
  const built = buildRun(config);
  const run = RunDir.create(root, { env: config.env, exp: "ppo", seed: config.ppo.seed, config: { ...config, hidden: built.policy.spec.hidden }, ...(options.command ? { command: options.command } : {}) });
  try {
    options.onCreated?.(run);
  } catch (err) {
    run.release();
    throw err;
  }
  return train(run, built, config, callbacks, { ...options, fresh: true });
}

/** What a resume may change: the budget, and how often and how many checkpoints are written and kept. */
export interface ResumeChanges {
  /** a new total of env steps (more, or fewer but beyond what is trained) */
  totalTimesteps?: number;
  checkpointEvery?: number;
  keepCheckpoints?: number | null;
}

export interface ResumedRun extends TrainedRun {
  /** env steps already trained when the resume started (0 when there was no checkpoint) */
  fromStep: number;
  /** damaged checkpoints skipped, with their errors */
  skipped: string[];
  /** the run had already trained its whole budget: nothing was run and no file was changed */
  alreadyFinished: boolean;
  /** what the resume changed or should be known (a new budget, a restart from scratch…), one sentence each */
  notes: string[];
}

/**
 * Continues the run in `path` from its newest valid checkpoint (metrics logged after it are dropped, since the
 * resumed run logs them again), under the run's lock: a run another live process writes is refused. Reaches the
 * same final weights as a run that was never interrupted. A run without a checkpoint starts again from step 0;
 * a run that has trained its whole budget is left exactly as it is. `changes` may extend the budget or change
 * checkpointing; `options.labels` names them in messages (`ppo.totalTimesteps` → `--steps`).
 */
export async function resumeRun(path: string, callbacks: PpoCallbacks = {}, options: RunOptions & { changes?: ResumeChanges; onNote?: (text: string, kind: "note" | "warning") => void } = {}): Promise<ResumedRun> {
  const run = RunDir.open(path, runConfigSchema, { lock: options.command ?? true });
  try {
    // notes are returned, and told as they arise (before training starts) when onNote is given
    const notes: string[] = [];
    const note = (text: string): void => {
      notes.push(text);
      options.onNote?.(text, "note");
    };
    const label = (p: string, fallback: string): string => options.labels?.[p] ?? fallback;
    let config = run.config as RunConfig;
    // a config.json written before checkpoint retention existed keeps every checkpoint, as it did
    const raw = JSON.parse(readFileSync(run.configPath, "utf8")) as Record<string, unknown>;
    if (!("keepCheckpoints" in raw)) config = { ...config, keepCheckpoints: null };
    const latest = run.latestCheckpoint();
    for (const s of latest?.skipped ?? []) options.onNote?.(`skipped a damaged checkpoint: ${s.path}: ${s.error.message}`, "warning");
    const meta = latest ? checkpointMeta(latest.checkpoint) : undefined;
    const doneSteps = meta?.ppo.globalStep ?? 0;
    const doneUpdates = meta?.ppo.update ?? 0;

    const changes = options.changes ?? {};
    const next: RunConfig = {
      ...config,
      ppo: {
        ...config.ppo,
        ...(changes.totalTimesteps !== undefined ? { totalTimesteps: changes.totalTimesteps } : {}),
        ...(changes.checkpointEvery !== undefined ? { checkpointEvery: changes.checkpointEvery } : {}),
      },
      ...(changes.keepCheckpoints !== undefined ? { keepCheckpoints: changes.keepCheckpoints } : {}),
    };
    const validated = validateRunConfig(next, { source: options.source ?? `${run.configPath} with the resume's changes`, ...(options.labels ? { labels: options.labels } : {}) });
    const budgetChanged = next.ppo.totalTimesteps !== config.ppo.totalTimesteps;
    if (budgetChanged && validated.sizes.numIterations <= doneUpdates) {
      throw new ConfigError(
        `${label("ppo.totalTimesteps", "totalTimesteps")} ${next.ppo.totalTimesteps} gives ${validated.steps} env steps, but this run has already trained ${doneSteps}`,
        `pass more than ${doneSteps} to train longer, or leave it out to resume as configured`,
      );
    }
    const sizes = validated.sizes;
    if (doneUpdates >= sizes.numIterations) {
      // nothing to train: report what the run has, change nothing (a summary a kill left unfinished is completed)
      const { policy } = loadPolicy(latest!.checkpoint);
      const records = run.readMetrics().records.filter((r) => r.global_step <= doneSteps);
      const last: PpoMetrics = { ...(records[records.length - 1] ?? {}) };
      delete last.global_step;
      if (run.summary().status !== "finished") {
        run.updateSummary({ status: "finished", global_step: doneSteps, updates: doneUpdates, episodic_return: last["charts/episodic_return"] ?? null, intended_return: last["charts/intended_return"] ?? null });
        note(`the run had trained all ${doneSteps} env steps but its summary was not marked finished; it is now`);
      }
      run.release();
      return {
        run,
        policy,
        result: { updates: doneUpdates, globalStep: doneSteps, seconds: 0, stepsPerSecond: 0, last },
        interrupted: false,
        fromStep: doneSteps,
        skipped: latest!.skipped.map((s) => `${s.path}: ${s.error.message}`),
        alreadyFinished: true,
        notes,
      };
    }

    // from here on the run is written
    if (budgetChanged || next.ppo.checkpointEvery !== config.ppo.checkpointEvery || next.keepCheckpoints !== config.keepCheckpoints) {
      writeJsonAtomic(run.configPath, { ...raw, ppo: { ...(raw.ppo as object), totalTimesteps: next.ppo.totalTimesteps, checkpointEvery: next.ppo.checkpointEvery }, keepCheckpoints: next.keepCheckpoints });
    }
    if (budgetChanged) {
      const old = derivedSizes(config.ppo);
      note(
        `the budget changes from ${old.numIterations * old.batchSize} to ${validated.steps} env steps (${validated.sizes.numIterations} updates)` +
          (next.ppo.annealLr
            ? `; the learning rate now anneals to 0 over the new budget (from ${(next.ppo.learningRate * (1 - doneUpdates / validated.sizes.numIterations)).toPrecision(3)} at update ${doneUpdates + 1}), so the run differs from one started with this budget`
            : ""),
      );
    }
    if (validated.stepsNote) note(validated.stepsNote);
    const fresh = buildRun(next, doneUpdates);
    // a planner checkpointed before planners took the env's own moves (coin-run) resumes with the moves it learned with
    const keepSaved = meta && meta.policy.kind === fresh.policy.kind && meta.policy.env?.dynamics !== fresh.policy.spec.env?.dynamics;
    const built = keepSaved ? { ...fresh, policy: createPolicy(meta.policy, new Rng(next.ppo.seed, "init")) } : fresh;
    let resume: PpoState | undefined;
    if (latest) {
      resume = restorePpoCheckpoint(latest.checkpoint, built.policy, built.env);
    } else {
      note("the run has no checkpoint yet: it starts again from step 0 (the same seed gives the same run)");
    }
    const { records } = run.readMetrics();
    const kept = records.filter((r) => r.global_step <= doneSteps);
    if (kept.length !== records.length || !latest) writeFileAtomic(run.metricsPath, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
    run.updateSummary({ status: "running", resumed_from_step: doneSteps });
    const trained = await train(run, built, next, { ...callbacks, ...(resume ? { resume } : {}) }, { ...options, fresh: false });
    return { ...trained, fromStep: doneSteps, skipped: latest ? latest.skipped.map((s) => `${s.path}: ${s.error.message}`) : [], alreadyFinished: false, notes };
  } finally {
    run.release();
  }
}

/** A policy with the checkpoint's spec and weights. */
function loadPolicy(checkpoint: LoadedCheckpoint): { policy: ActorCritic } {
  const meta = checkpointMeta(checkpoint);
  const policy = createPolicy(meta.policy, new Rng(0, "init"));
  loadPolicyWeights(checkpoint, policy);
  return { policy };
}

/** A trained run loaded for evaluation: its config, newest valid checkpoint's policy and what it skipped. */
export interface LoadedRunPolicy {
  run: RunDir;
  config: RunConfig;
  policy: ActorCritic;
  /** the evaluated checkpoint's step and file */
  step: number;
  checkpointPath: string;
  /** newer checkpoints that could not be read, with their errors (the evaluation used an older one) */
  skipped: string[];
  /** whether the run is still training, finished, or was killed */
  activity: RunActivity;
}

/**
 * The run's config and its policy with the newest valid checkpoint's weights (no lock: reading a run that is
 * training is fine). A checkpoint whose policy does not fit the env config.json describes (config.json edited
 * after training) is reported as such.
 */
export function loadRunPolicy(path: string): LoadedRunPolicy {
  const run = RunDir.open(path, runConfigSchema);
  const config = run.config as RunConfig;
  const latest = run.latestCheckpoint();
  if (!latest) throw new CheckpointError(`${path}: has no checkpoint yet`, "wait for the first checkpoint (every ppo.checkpointEvery updates) or train longer");
  const meta = checkpointMeta(latest.checkpoint);
  const env = new VecEnv(getEnvDefinition(config.env), { n: 1, distribution: config.distribution, params: config.envParams });
  const expected = [...env.obsShape];
  if (meta.policy.obsShape.join(",") !== expected.join(",") || meta.policy.numActions !== env.numActions) {
    throw new RunDirError(
      `${run.configPath} does not match ${latest.checkpoint.path}: the config describes ${config.env} with observations [${expected.join(", ")}] and ${env.numActions} actions, ` +
        `but the checkpoint's policy was trained on observations [${meta.policy.obsShape.join(", ")}] with ${meta.policy.numActions} actions`,
      "config.json was edited after training (env, distribution or envParams); restore the values the run was trained with",
    );
  }
  const { policy } = loadPolicy(latest.checkpoint);
  return {
    run,
    config,
    policy,
    step: latest.checkpoint.step,
    checkpointPath: latest.checkpoint.path,
    skipped: latest.skipped.map((s) => `${s.path}: ${s.error.message}`),
    activity: run.activity(),
  };
}
