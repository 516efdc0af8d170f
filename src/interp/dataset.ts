// Activation datasets: run a policy on an environment's level distribution and keep, for a sample of its
// steps, the observation, the chosen hooked activations and labels from the environment (labels.ts). Saved as
// one safetensors file (tensors `obs`, `act/<hook>`, `label/<name>`, `episode_id`, with the description in its
// metadata) plus the same description as JSON beside it, so Python reads it with
// `safetensors.numpy.load_file` and `json.load`.
import { CheckpointError, ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { noGrad, Tensor } from "../core/tensor.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { loadSafetensorsFile, saveSafetensorsFile, type TensorInput, toFloat32 } from "../io/safetensors.js";
import type { Module } from "../nn/module.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { sampleCategorical } from "../rl/sample.js";
import { hookInfo, resolveHooks } from "./hooks.js";
import { EPISODE_OUTCOMES, type LabelSpec, StepLabeler } from "./labels.js";

export const DATASET_FORMAT = "mesa-activations/1";

/** Everything about a dataset except its arrays (the JSON file and the safetensors metadata). */
export interface DatasetMeta {
  format: typeof DATASET_FORMAT;
  env: string;
  distribution: string;
  /** resolved environment parameters */
  params: Record<string, unknown>;
  /** level seed: sample k's level replays from (seed, env_index, episode) */
  seed: number;
  samples: number;
  episodes: number;
  /** one observation's [channels, height, width] and channel names */
  obs_shape: [number, number, number];
  /** the level's size: cell labels are y·width + x in level coordinates */
  level: { height: number; width: number };
  /** true when the observation is a window moving with the agent (then it is not aligned with level cells) */
  windowed: boolean;
  channels: string[];
  hooks: { name: string; shape: number[] }[];
  labels: LabelSpec[];
  /** how actions were chosen while collecting */
  behaviour: "sample" | "greedy" | "random";
  /** free-form provenance: run directory, checkpoint step, model spec */
  source: Record<string, unknown>;
  /** how to read it from Python */
  python: string;
}

export interface ActivationDataset {
  meta: DatasetMeta;
  /** [samples, C·H·W] */
  obs: Float32Array;
  /** hook name → [samples, size] */
  activations: Map<string, Float32Array>;
  /** label name → [samples] (NaN where the label does not apply) */
  labels: Map<string, Float64Array>;
  /** [samples] id of the episode each sample came from (folds keep episodes whole) */
  episodeId: Int32Array;
}

export interface CollectOptions {
  /** hook names or `*` patterns (default: every hook point) */
  hooks?: readonly string[];
  /** samples to keep */
  samples: number;
  /** level distribution (default "train") */
  distribution?: string;
  /** environment parameter overrides */
  params?: Record<string, unknown>;
  /** level seed (choose one training never used) */
  seed: number;
  /** parallel copies (default 32) */
  numEnvs?: number;
  /** chance of keeping each step, so samples spread over many episodes (default 0.35) */
  keepProbability?: number;
  /** at most this many samples from one episode, so long wandering episodes do not crowd out other mazes (default 8) */
  maxPerEpisode?: number;
  /** how the acting policy picks actions (default "sample") */
  behaviour?: "sample" | "greedy" | "random";
  /** provenance stored with the dataset */
  source?: Record<string, unknown>;
}

/** Samples taken from one episode at most, by default (so a dataset of N samples spans at least N / 8 episodes). */
export const MAX_SAMPLES_PER_EPISODE = 8;

const PYTHON_HINT =
  "from safetensors.numpy import load_file; import json; t = load_file('<file>.safetensors'); meta = json.load(open('<file>.json')); " +
  "t['obs'] is [N, C, H, W] uint8, t['act/<hook>'] float32 [N, ...], t['label/<name>'] float64 [N] (NaN = not applicable), t['episode_id'] int32 [N]";

/**
 * Runs `policy` on `def` and keeps `samples` steps: observation, activations at the chosen hooks, and labels.
 * Only whole episodes are kept: collection stops taking new samples once it has enough, then lets the episodes
 * it sampled from finish so their outcome labels are known.
 */
export function collectActivations(policy: ActorCritic, def: AnyEnvDefinition, options: CollectOptions): ActivationDataset {
  const samples = options.samples;
  if (!Number.isInteger(samples) || samples < 1) throw new ConfigError(`samples must be a positive integer, got ${samples}`);
  const keep = options.keepProbability ?? 0.35;
  const maxPerEpisode = options.maxPerEpisode ?? MAX_SAMPLES_PER_EPISODE;
  if (!Number.isInteger(maxPerEpisode) || maxPerEpisode < 1) throw new ConfigError(`maxPerEpisode must be a positive integer, got ${maxPerEpisode}`);
  if (!(keep > 0 && keep <= 1)) throw new ConfigError(`keepProbability must be in (0, 1], got ${keep}`);
  const n = options.numEnvs ?? 32;
  const env = new VecEnv(def, { n, distribution: options.distribution ?? "train", ...(options.params ? { params: options.params } : {}) });
  const obsShape = env.obsShape;
  // one real observation for the shapes (a planner cannot plan on an empty grid)
  const first = new VecEnv(def, { n: 1, distribution: options.distribution ?? "train", ...(options.params ? { params: options.params } : {}) });
  first.reset(0);
  const info = hookInfo(policy, obsShape, first.obs);
  const names = resolveHooks(info.map((h) => h.name), options.hooks ?? ["*"]);
  const hooks = names.map((name) => info.find((h) => h.name === name)!);
  const labeler = new StepLabeler(env);
  const specs = labeler.labels;
  const L = specs.length;
  const chw = obsShape[0] * obsShape[1] * obsShape[2];

  const obs = new Float32Array(samples * chw);
  const acts = new Map(hooks.map((h) => [h.name, new Float32Array(samples * h.size)]));
  const table = new Float64Array(samples * L).fill(Number.NaN);
  const episodeId = new Int32Array(samples);
  const row = new Float64Array(L);

  const behaviour = options.behaviour ?? "sample";
  const rng = new Rng(options.seed, "interp/collect");
  const actions = new Int32Array(n);
  // samples taken in each copy's current episode, waiting for its outcome
  const pending: number[][] = Array.from({ length: n }, () => []);
  const currentId = new Int32Array(n);
  let nextEpisodeId = 0;
  for (let i = 0; i < n; i++) currentId[i] = nextEpisodeId++;
  const episodesUsed = new Set<number>();
  const col = (name: string): number => labeler.column(name);
  const actionCol = col("action");
  const eventCols = env.eventNames.map((e) => col(`event_${e}`));
  const [cStepsToEnd, cRet, cIntRet, cGoal, cProxy, cOutcome, cStep] = [
    "steps_to_end", "episode_return", "episode_intended_return", "episode_intended_goal", "episode_pursued_proxy", "episode_outcome", "step",
  ].map(col) as [number, number, number, number, number, number, number];

  env.reset(options.seed);
  let taken = 0;
  let open = 0; // samples whose episode has not finished
  const stepSamples = new Int32Array(n).fill(-1);
  const maxLoops = Math.ceil(samples / (n * keep)) * 20 + Math.ceil(samples / (n * maxPerEpisode)) * env.maxSteps * 4 + env.maxSteps * 4 + 1000;
  for (let loop = 0; (taken < samples || open > 0) && loop < maxLoops; loop++) {
    const input = new Tensor(env.obs, [n, ...obsShape]);
    const { output, cache } = noGrad(() => policy.runWithCache(input, { names, detach: true }));
    if (behaviour === "random") for (let i = 0; i < n; i++) actions[i] = rng.int(env.numActions);
    else sampleCategorical(output.logits.data, n, env.numActions, rng, actions, undefined, behaviour === "greedy");
    stepSamples.fill(-1);
    for (let i = 0; i < n; i++) {
      if (taken >= samples || rng.float() >= keep || pending[i]!.length >= maxPerEpisode) continue;
      const k = taken++;
      open++;
      obs.set(env.obs.subarray(i * chw, (i + 1) * chw), k * chw);
      for (const h of hooks) acts.get(h.name)!.set(cache.get(h.name)!.data.subarray(i * h.size, (i + 1) * h.size), k * h.size);
      labeler.read(i, row);
      row[actionCol] = actions[i]!;
      table.set(row, k * L);
      episodeId[k] = currentId[i]!;
      episodesUsed.add(currentId[i]!);
      pending[i]!.push(k);
      stepSamples[i] = k;
    }
    env.step(actions);
    const E = env.numEvents;
    for (let i = 0; i < n; i++) {
      const k = stepSamples[i]!;
      if (k >= 0) eventCols.forEach((c, e) => (table[k * L + c] = env.events[i * E + e]!));
      if ((env.terminated[i]! | env.truncated[i]!) === 0) continue;
      const f = env.finished;
      const goal = f.intendedGoalReached[i]!;
      const proxy = f.pursuedProxy[i]!;
      for (const s of pending[i]!) {
        const o = s * L;
        table[o + cStepsToEnd] = f.length[i]! - table[o + cStep]!;
        table[o + cRet] = f.baseReturn[i]!;
        table[o + cIntRet] = f.intendedReturn[i]!;
        table[o + cGoal] = goal;
        table[o + cProxy] = proxy;
        table[o + cOutcome] = goal ? EPISODE_OUTCOMES.indexOf("intended") : proxy ? EPISODE_OUTCOMES.indexOf("proxy") : EPISODE_OUTCOMES.indexOf("neither");
      }
      open -= pending[i]!.length;
      pending[i]!.length = 0;
      currentId[i] = nextEpisodeId++;
    }
  }
  if (open > 0 || taken < samples) throw new Error(`collectActivations: stopped with ${taken}/${samples} samples and ${open} unfinished (episodes never end?)`);

  const labels = new Map<string, Float64Array>();
  specs.forEach((s, c) => labels.set(s.name, Float64Array.from({ length: samples }, (_, k) => table[k * L + c]!)));
  return {
    meta: {
      format: DATASET_FORMAT,
      env: def.name,
      distribution: env.distribution,
      params: { ...(env.params as Record<string, unknown>) },
      seed: options.seed,
      samples,
      episodes: episodesUsed.size,
      obs_shape: [...obsShape],
      level: { height: env.height, width: env.width },
      windowed: env.viewHeight !== env.height || env.viewWidth !== env.width,
      channels: [...env.channels],
      hooks: hooks.map((h) => ({ name: h.name, shape: h.shape })),
      labels: [...specs],
      behaviour,
      source: options.source ?? {},
      python: PYTHON_HINT,
    },
    obs,
    activations: acts,
    labels,
    episodeId,
  };
}

/**
 * Activations of `model` at `hooks` on the dataset's observations (e.g. a randomly initialised network of the
 * same architecture, as a probe baseline), in batches.
 */
export function activationsOn(model: Module<Tensor, unknown>, dataset: ActivationDataset, hooks: readonly string[], batch = 256): Map<string, Float32Array> {
  return activationsOnObservations(model, dataset.obs, dataset.meta.obs_shape, hooks, batch);
}

/** Activations of `model` at `hooks` on observations `obs` ([N, C, H, W] flattened, N = obs.length / C·H·W), in batches. */
export function activationsOnObservations(model: Module<Tensor, unknown>, obs: Float32Array, shape: readonly [number, number, number], hooks: readonly string[], batch = 256): Map<string, Float32Array> {
  const [C, H, W] = shape;
  const chw = C * H * W;
  const N = obs.length / chw;
  const out = new Map<string, Float32Array>();
  for (let start = 0; start < N; start += batch) {
    const m = Math.min(batch, N - start);
    const input = new Tensor(obs.subarray(start * chw, (start + m) * chw), [m, C, H, W]);
    const { cache } = noGrad(() => model.runWithCache(input, { names: [...hooks], detach: true }));
    for (const name of hooks) {
      const t = cache.get(name)!;
      const size = t.size / m;
      let arr = out.get(name);
      if (!arr) {
        arr = new Float32Array(N * size);
        out.set(name, arr);
      }
      arr.set(t.data, start * size);
    }
  }
  return out;
}

/** The label's values, or a ConfigError listing the labels the dataset has. */
export function datasetLabel(dataset: ActivationDataset, name: string): { spec: LabelSpec; values: Float64Array } {
  const spec = dataset.meta.labels.find((l) => l.name === name);
  const values = dataset.labels.get(name);
  if (!spec || !values) {
    throw new ConfigError(
      `${dataset.meta.env} provides no label "${name}"`,
      `available labels: ${dataset.meta.labels.map((l) => l.name).join(", ")}`,
    );
  }
  return { spec, values };
}

/** Saves `<base>.safetensors` and `<base>.json`; returns both paths. */
export function saveActivationDataset(base: string, dataset: ActivationDataset): { safetensors: string; json: string } {
  const { meta } = dataset;
  const N = meta.samples;
  const tensors: Record<string, TensorInput> = {
    obs: { dtype: "U8", shape: [N, ...meta.obs_shape], data: Uint8Array.from(dataset.obs) },
    episode_id: { dtype: "I32", shape: [N], data: dataset.episodeId as Int32Array<ArrayBuffer> },
  };
  for (const h of meta.hooks) tensors[`act/${h.name}`] = { dtype: "F32", shape: [N, ...h.shape], data: dataset.activations.get(h.name)! as Float32Array<ArrayBuffer> };
  for (const l of meta.labels) tensors[`label/${l.name}`] = { dtype: "F64", shape: [N], data: dataset.labels.get(l.name)! as Float64Array<ArrayBuffer> };
  const paths = { safetensors: `${base}.safetensors`, json: `${base}.json` };
  saveSafetensorsFile(paths.safetensors, tensors, { "mesa/dataset": JSON.stringify(meta) });
  writeJsonAtomic(paths.json, meta);
  return paths;
}

/** Loads a dataset written by saveActivationDataset (the description is read from the safetensors metadata). */
export function loadActivationDataset(path: string): ActivationDataset {
  const file = loadSafetensorsFile(path.endsWith(".json") ? path.replace(/\.json$/, ".safetensors") : path);
  const raw = file.metadata["mesa/dataset"];
  let meta: DatasetMeta;
  try {
    meta = JSON.parse(raw ?? "null") as DatasetMeta;
  } catch {
    meta = null as unknown as DatasetMeta;
  }
  if (!meta || meta.format !== DATASET_FORMAT) {
    throw new CheckpointError(`${path}: not an activation dataset (no ${DATASET_FORMAT} description in its metadata)`, "pass a file written by `mesa activations` or saveActivationDataset");
  }
  const need = (name: string): Float32Array => {
    const e = file.tensors.get(name);
    if (!e) throw new CheckpointError(`${path}: tensor ${name} is missing`, "the file is incomplete; collect the dataset again");
    return toFloat32(e);
  };
  const activations = new Map(meta.hooks.map((h) => [h.name, need(`act/${h.name}`)]));
  const labels = new Map(meta.labels.map((l) => {
    const e = file.tensors.get(`label/${l.name}`);
    if (!e || e.dtype !== "F64") throw new CheckpointError(`${path}: label ${l.name} is missing or not F64`, "collect the dataset again");
    return [l.name, Float64Array.from(e.data as Float64Array)];
  }));
  const ep = file.tensors.get("episode_id");
  if (!ep || ep.dtype !== "I32") throw new CheckpointError(`${path}: episode_id is missing or not I32`, "collect the dataset again");
  return { meta, obs: need("obs"), activations, labels, episodeId: Int32Array.from(ep.data as Int32Array) };
}
