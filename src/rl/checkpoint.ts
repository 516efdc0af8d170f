// PPO checkpoints in a run directory: one safetensors file per checkpoint holding the policy's weights
// (PyTorch names and layouts: `policy.layers.0.weight` …), Adam's moments (`optimizer.state.<i>.exp_avg` …) and
// the environment's exact state (`env.*`), with the JSON state — update counter, env steps, RNG streams,
// optimizer step and hyperparameters, model spec — in the file's metadata. RunDir writes it atomically
// (temp file + fsync + rename), so a kill leaves the previous checkpoint whole.
import { CheckpointError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import type { VecEnv } from "../envs/engine.js";
import { type LoadedCheckpoint, type RunDir } from "../io/rundir.js";
import type { SafetensorsEntry, TensorInput } from "../io/safetensors.js";
import type { ActorCritic, PolicySpec } from "../nn/models/policy.js";
import { restoreEnv, snapshotEnv } from "./envstate.js";
import type { PpoState } from "./ppo.js";

const OPTIMIZER_PREFIX = "optimizer.";
const ENV_PREFIX = "env.";

/** The JSON that rides in the checkpoint's metadata. */
export interface CheckpointMeta {
  format: "mesa-ppo/1";
  policy: PolicySpec;
  envSeed: number;
  ppo: Omit<PpoState, "optimizer"> & { optimizerMeta: PpoState["optimizer"]["meta"] };
}

/** Writes a checkpoint of the run at `state` (named by its global step). */
export function savePpoCheckpoint(run: RunDir, policy: ActorCritic, env: VecEnv, state: PpoState): string {
  const tensors: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(policy.stateDict())) tensors[name] = { dtype: "F32", shape: [...t.shape], data: t.data as Float32Array<ArrayBuffer> };
  for (const [name, t] of Object.entries(state.optimizer.tensors)) tensors[`${OPTIMIZER_PREFIX}${name}`] = { dtype: "F32", shape: [...t.shape], data: t.data as Float32Array<ArrayBuffer> };
  const snap = snapshotEnv(env);
  Object.assign(tensors, snap.tensors);
  const { optimizer, ...rest } = state;
  const meta: CheckpointMeta = { format: "mesa-ppo/1", policy: policy.spec, envSeed: snap.seed, ppo: { ...rest, optimizerMeta: optimizer.meta } };
  return run.saveCheckpoint(state.globalStep, tensors, meta).path;
}

/** The checkpoint's JSON state, checked. */
export function checkpointMeta(checkpoint: LoadedCheckpoint): CheckpointMeta {
  const m = checkpoint.state as Partial<CheckpointMeta> | undefined;
  if (!m || m.format !== "mesa-ppo/1" || !m.policy || !m.ppo) {
    throw new CheckpointError(`${checkpoint.path}: not a PPO checkpoint (no mesa-ppo/1 state in its metadata)`, "pass a run directory written by `mesa train`");
  }
  return m as CheckpointMeta;
}

function entryTensor(entry: SafetensorsEntry, name: string, source: string): Tensor {
  if (entry.dtype !== "F32") throw new CheckpointError(`${source}: tensor ${name} is ${entry.dtype}, expected F32`, "the checkpoint was not written by mesa train");
  return new Tensor(entry.data as Float32Array, entry.shape);
}

/** Copies the checkpoint's weights into `policy` (which must have the checkpoint's spec). */
export function loadPolicyWeights(checkpoint: LoadedCheckpoint, policy: ActorCritic): void {
  const sd: Record<string, Tensor> = {};
  for (const [name, entry] of checkpoint.file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX) || name.startsWith(ENV_PREFIX)) continue;
    sd[name] = entryTensor(entry, name, checkpoint.path);
  }
  try {
    policy.loadStateDict(sd);
  } catch (err) {
    if (err instanceof CheckpointError) throw new CheckpointError(`${checkpoint.path}: ${err.message}`, err.hint);
    throw err;
  }
}

/** Restores weights and the env, and returns the PPO state to pass as `callbacks.resume`. */
export function restorePpoCheckpoint(checkpoint: LoadedCheckpoint, policy: ActorCritic, env: VecEnv): PpoState {
  const meta = checkpointMeta(checkpoint);
  loadPolicyWeights(checkpoint, policy);
  restoreEnv(env, checkpoint.file.tensors, meta.envSeed, checkpoint.path);
  const tensors: Record<string, Tensor> = {};
  for (const [name, entry] of checkpoint.file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) tensors[name.slice(OPTIMIZER_PREFIX.length)] = entryTensor(entry, name, checkpoint.path);
  }
  const { optimizerMeta, ...rest } = meta.ppo;
  return { ...rest, optimizer: { meta: optimizerMeta, tensors } };
}
