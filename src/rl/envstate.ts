// Exact snapshots of a vectorized environment for checkpoints: every typed array of the engine's state
// (grids, agents, episode counters, running totals, observations) and of the environment's own per-copy
// state, as safetensors entries named `env.<path>`. Restoring them into a fresh env of the same kind,
// distribution and size continues every copy's episode where it stood, so a resumed run is bit-identical.
import { CheckpointError } from "../core/errors.js";
import type { VecEnv } from "../envs/engine.js";
import type { Dtype, SafetensorsEntry, TensorInput } from "../io/safetensors.js";

type Typed = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array;

const DTYPE_OF: [new (...args: never[]) => Typed, Dtype][] = [
  [Float32Array, "F32"],
  [Float64Array, "F64"],
  [Int32Array, "I32"],
  [Uint8Array, "U8"],
  [Int8Array, "I8"],
  [Int16Array, "I16"],
  [Uint16Array, "U16"],
  [Uint32Array, "U32"],
];

function dtypeOf(a: Typed): Dtype | undefined {
  for (const [ctor, dtype] of DTYPE_OF) if (a instanceof ctor) return dtype;
  return undefined;
}

/** The engine arrays that define where every copy stands (per-step outputs are rewritten by the next step). */
function engineArrays(env: VecEnv): Record<string, Typed> {
  return {
    obs: env.obs,
    obsBytes: env.obsBytes,
    grid: env.grid,
    agentY: env.agentY,
    agentX: env.agentX,
    episode: env.episode,
    episodeStep: env.episodeStep,
    "running.baseReturn": env.running.baseReturn,
    "running.intendedReturn": env.running.intendedReturn,
    "running.events": env.running.events,
  };
}

/** Every typed array reachable from the env's own state object, by dotted path. */
function stateArrays(state: unknown, prefix: string, out: Record<string, Typed>): void {
  if (state === null || typeof state !== "object") return;
  for (const [key, value] of Object.entries(state)) {
    const path = `${prefix}.${key}`;
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      if (dtypeOf(value as Typed) === undefined) throw new CheckpointError(`env state ${path} is a ${value.constructor.name}, which checkpoints cannot hold`, "use a Float32/Float64/Int/Uint typed array in the env state");
      out[path] = value as Typed;
    } else if (typeof value === "object" && value !== null) {
      stateArrays(value, path, out);
    }
  }
}

/** Behind a view window, the whole level the window is copied from (it holds overlay channels nothing else keeps). */
const LEVEL_CHANNELS = "levelChannels";

function allArrays(env: VecEnv): Record<string, Typed> {
  const arrays = engineArrays(env);
  if (env.windowed) arrays[LEVEL_CHANNELS] = env.levelChannels;
  stateArrays(env.state, "state", arrays);
  return arrays;
}

/** The env's state as tensors named `env.<path>` plus the seed it was reset with. */
export function snapshotEnv(env: VecEnv): { tensors: Record<string, TensorInput>; seed: number } {
  const tensors: Record<string, TensorInput> = {};
  for (const [path, a] of Object.entries(allArrays(env))) {
    tensors[`env.${path}`] = { dtype: dtypeOf(a)!, shape: [a.length], data: a.slice() };
  }
  return { tensors, seed: env.seed };
}

/** Restores a snapshot into `env` (same env, distribution and number of copies), resetting it first. */
export function restoreEnv(env: VecEnv, tensors: ReadonlyMap<string, SafetensorsEntry>, seed: number, source: string): void {
  env.reset(seed);
  for (const [path, a] of Object.entries(allArrays(env))) {
    const entry = tensors.get(`env.${path}`);
    if (entry === undefined && path === LEVEL_CHANNELS) {
      // written before the level behind the window was saved: rebuilt from the restored grid after the loop
      continue;
    }
    if (entry === undefined) throw new CheckpointError(`${source}: the environment state env.${path} is missing`, "the checkpoint was written by another environment or version; start a new run");
    if (entry.dtype !== dtypeOf(a) || entry.data.length !== a.length) {
      throw new CheckpointError(
        `${source}: env.${path} is ${entry.dtype}[${entry.data.length}], but this environment needs ${dtypeOf(a)}[${a.length}]`,
        "resume with the same environment, distribution and number of envs as the run was started with",
      );
    }
    a.set(entry.data as Typed);
  }
  if (env.windowed && !tensors.has(`env.${LEVEL_CHANNELS}`)) env.rebuildLevelChannels();
}
