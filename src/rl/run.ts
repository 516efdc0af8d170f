// PPO runs on disk: start a run in a run directory (config.json, metrics.jsonl, checkpoints), resume one from
// its newest valid checkpoint, and load a trained policy back for evaluation. The CLI commands (`mesa train`,
// `mesa eval`, `mesa experiment`, `mesa demo`) are thin callers of these functions.
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { CheckpointError, DivergenceError, RunDirError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { VecEnv } from "../envs/engine.js";
import { getEnvDefinition } from "../envs/make.js";
import { RunDir } from "../io/rundir.js";
import { writeFileAtomic } from "../io/atomic.js";
import "../nn/models/mlp_policy.js";
import "../nn/models/cnn_policy.js";
import "../nn/models/planner.js";
import { type ActorCritic, createPolicy } from "../nn/models/policy.js";
import { checkpointMeta, loadPolicyWeights, restorePpoCheckpoint, savePpoCheckpoint } from "./checkpoint.js";
import { ppoConfigSchema, type PpoConfig } from "./config.js";
import { type PpoCallbacks, type PpoMetrics, type PpoResult, trainPPO } from "./ppo.js";

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
  })
  .strict();
export type RunConfig = z.output<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

export interface TrainedRun {
  run: RunDir;
  policy: ActorCritic;
  result: PpoResult;
}

/** Builds the env and a freshly initialised policy a run config describes (validating names first). */
export function buildRun(config: RunConfig): { env: VecEnv; policy: ActorCritic } {
  const def = getEnvDefinition(config.env);
  const env = new VecEnv(def, { n: config.ppo.numEnvs, distribution: config.distribution, params: config.envParams });
  const policy = createPolicy(
    {
      kind: config.model,
      obsShape: [...env.obsShape],
      numActions: env.numActions,
      env: { channels: [...env.channels], agentChannel: def.agent.channel, actions: [...env.actionNames] },
      options: config.modelParams,
      ...(config.hidden ? { hidden: config.hidden } : {}),
    },
    new Rng(config.ppo.seed, "init"),
  );
  return { env, policy };
}

/** Callbacks that log metrics and write checkpoints into `run`, then call `extra`'s. */
export function runCallbacks(run: RunDir, env: VecEnv, policy: ActorCritic, extra: PpoCallbacks): PpoCallbacks {
  return {
    async onUpdate(metrics, info) {
      run.appendMetrics({ global_step: info.globalStep, ...metrics });
      return extra.onUpdate?.(metrics, info);
    },
    async onCheckpoint(state) {
      savePpoCheckpoint(run, policy, env, state);
      await extra.onCheckpoint?.(state);
    },
  };
}

async function train(run: RunDir, env: VecEnv, policy: ActorCritic, ppo: PpoConfig, callbacks: PpoCallbacks): Promise<TrainedRun> {
  let result: PpoResult;
  try {
    result = await trainPPO(env, policy, ppo, { ...runCallbacks(run, env, policy, callbacks), ...(callbacks.resume ? { resume: callbacks.resume } : {}) });
  } catch (err) {
    if (err instanceof DivergenceError) run.updateSummary({ status: "failed", error: err.message });
    throw err;
  }
  const last: PpoMetrics = result.last;
  run.updateSummary({
    status: "finished",
    global_step: result.globalStep,
    updates: result.updates,
    episodic_return: last["charts/episodic_return"] ?? null,
    intended_return: last["charts/intended_return"] ?? null,
  });
  return { run, policy, result };
}

/** Creates `root/<env>__ppo__<seed>__<time>/` and trains in it; `onCreated` learns the directory before training starts. */
export async function startRun(root: string, input: RunConfigInput, callbacks: PpoCallbacks = {}, onCreated?: (run: RunDir) => void): Promise<TrainedRun> {
  const config = parseConfig(runConfigSchema, input, "run config");
  const { env, policy } = buildRun(config);
  const run = RunDir.create(root, { env: config.env, exp: "ppo", seed: config.ppo.seed, config: { ...config, hidden: policy.spec.hidden } });
  onCreated?.(run);
  return train(run, env, policy, config.ppo, callbacks);
}

/**
 * Continues the run in `path` from its newest valid checkpoint (metrics logged after it are dropped, since the
 * resumed run logs them again). Reaches the same final weights as a run that was never interrupted.
 */
export async function resumeRun(path: string, callbacks: PpoCallbacks = {}): Promise<TrainedRun & { fromStep: number; skipped: string[] }> {
  const run = RunDir.open(path, runConfigSchema);
  const config = run.config as RunConfig;
  const latest = run.latestCheckpoint();
  if (!latest) throw new RunDirError(`${path}: has no checkpoint to resume from`, "checkpoints are written every ppo.checkpointEvery updates; start the run again without --resume");
  const { env, policy } = buildRun(config);
  const resume = restorePpoCheckpoint(latest.checkpoint, policy, env);
  const { records } = run.readMetrics();
  const kept = records.filter((r) => r.global_step <= resume.globalStep);
  writeFileAtomic(run.metricsPath, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
  run.updateSummary({ status: "running" });
  const trained = await train(run, env, policy, config.ppo, { ...callbacks, resume });
  return { ...trained, fromStep: resume.globalStep, skipped: latest.skipped.map((s) => `${s.path}: ${s.error.message}`) };
}

/** The run's config and its policy with the newest valid checkpoint's weights. */
export function loadRunPolicy(path: string): { run: RunDir; config: RunConfig; policy: ActorCritic; step: number } {
  const run = RunDir.open(path, runConfigSchema);
  const config = run.config as RunConfig;
  const latest = run.latestCheckpoint();
  if (!latest) throw new CheckpointError(`${path}: has no checkpoint yet`, "wait for the first checkpoint (every ppo.checkpointEvery updates) or train longer");
  const meta = checkpointMeta(latest.checkpoint);
  const policy = createPolicy(meta.policy, new Rng(0, "init"));
  loadPolicyWeights(latest.checkpoint, policy);
  return { run, config, policy, step: latest.checkpoint.step };
}
