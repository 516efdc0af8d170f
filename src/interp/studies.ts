// The interpretability battery on a trained policy, each analysis beside the baselines that give it meaning:
//   probeStudy     — probes at each hook vs the same probe on a randomly initialised network of the same
//                    architecture and on the raw observation;
//   channelStudy   — channel search vs the random-init network's best channel;
//   patchStudy     — activation patching between the same observations with the goal object present/removed;
//   steerStudy     — a steering vector judged by behaviour vs the unsteered policy and the random, scripted
//                    proxy and scripted intended policies on the same levels (arms in parallel: arms.ts);
//   retargetStudy  — retargeting the goal-tracking channels vs the unedited policy, the goal itself at the target and
//                    a random policy (the arms side by side in worker threads).
// The CLI commands (`mesa probe|patch|steer|retarget|channels`) and `mesa experiment maze-interp` call these.
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { noGrad, Tensor } from "../core/tensor.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { paramsOn } from "../envs/make.js";
import { type ScriptedKind, scriptedPolicy } from "../envs/scripted.js";
import { type ActorCritic, createPolicy } from "../nn/models/policy.js";
import { type ActionSource, type EvaluationResult, evaluate, policyActions } from "../rl/evaluate.js";
import { cellsInView, type ChannelScore, type ChannelSearchResult, searchChannels, trackingChannels } from "./channels.js";
import { type ActivationDataset, activationsOn, collectActivations, datasetLabel } from "./dataset.js";
import { emptyCells, litCells, moveChannel, withoutChannel } from "./observations.js";
import { type PatchDirection, type PatchGranularity, type PolicyPatchResult, patchPolicy, preferredActions } from "./patching.js";
import { crossValidateProbe, type ProbeFamily, type ProbeFeatures, type ProbeLayout, type ProbeReport, type ProbeTask } from "./probe.js";
import { goalSignature, type RetargetCriterion, type RetargetResult } from "./retarget.js";
import { type ArmVector, evaluateArms, retargetArms } from "./arms.js";
import { meanDifferenceVector } from "./steering.js";
import { cellGridOf, isLevelCell, type LabelSpec } from "./labels.js";

/** A randomly initialised network of the policy's architecture (the "untrained" baseline). */
export function randomInitTwin(policy: ActorCritic, seed: number): ActorCritic {
  return createPolicy(policy.spec, new Rng(seed, "interp/random-init"));
}

/** Environment parameters for analysing a run on `distribution` (paramsOn: the run's, minus those that distribution sets itself), `overrides` on top. */
export function analysisParams(
  def: AnyEnvDefinition,
  trainedOn: { distribution: string; envParams: Record<string, unknown> },
  distribution: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return { ...paramsOn(def, distribution, trainedOn.distribution, trainedOn.envParams), ...overrides };
}

// ---- probes ----

export interface ProbeStudyOptions {
  target: string;
  /** hooks to probe (all must be in the dataset) */
  hooks: readonly string[];
  /** default: from the label's kind */
  task?: ProbeTask;
  layout?: ProbeLayout | "auto";
  /** linear probes (default) or the MLP probe, on the same folds */
  probe?: ProbeFamily;
  /** hidden units of the MLP probe */
  mlpHidden?: number;
  folds?: number;
  innerFolds?: number;
  /** fold assignment and random-init seed */
  seed?: number;
  /** probe the random-init twin at every hook, not only at the chosen layer (slower) */
  randomInitAllLayers?: boolean;
}

export interface ProbeArm {
  /** hook name, or "observation" */
  source: string;
  report: ProbeReport;
}

export interface ProbeStudy {
  target: string;
  label: LabelSpec;
  task: ProbeTask;
  probe: ProbeFamily;
  /** the headline metric: accuracy (classes), r2 (regression) */
  metric: "accuracy" | "r2";
  samples: number;
  episodes: number;
  layers: ProbeArm[];
  /** the hook with the best held-out metric */
  chosen_layer: string;
  /** the same probe on a randomly initialised network of the same architecture, at the chosen layer (or every hook) */
  random_init: ProbeArm[];
  /** the same probe on the raw observation */
  observation: ProbeArm;
}

function taskOf(label: LabelSpec): ProbeTask {
  if (label.kind === "cell" || label.kind === "category") return "multiclass";
  if (label.kind === "binary") return "binary";
  return "regression";
}

export function headline(report: ProbeReport): number {
  return report.task === "regression" ? (report.r2 ?? Number.NaN) : (report.accuracy ?? Number.NaN);
}

/** Probes `target` at every hook of the dataset's policy and at the same hooks of a random-init twin, and on the raw observation. */
export function probeStudy(policy: ActorCritic, dataset: ActivationDataset, options: ProbeStudyOptions): ProbeStudy {
  const { spec, values } = datasetLabel(dataset, options.target);
  const task = options.task ?? taskOf(spec);
  const rows: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) rows.push(i);
  if (rows.length < 20) {
    throw new ConfigError(`only ${rows.length} samples have a value for "${options.target}"`, `collect on a distribution where it applies (the cheese must be on the grid for cheese_* labels), or collect more samples`);
  }
  const [C, H, W] = dataset.meta.obs_shape;
  const level = dataset.meta.level;
  // the grid a cell label's values index: the level's, or the displacement grid for labels in the agent's frame
  const grid = cellGridOf(spec, level);
  const y = Float64Array.from(rows, (i) => values[i]!);
  const groups = Int32Array.from(rows, (i) => dataset.episodeId[i]!);
  const base = {
    task,
    ...(options.layout ? { layout: options.layout } : {}),
    ...(options.probe ? { probe: options.probe } : {}),
    ...(options.mlpHidden !== undefined ? { mlpHidden: options.mlpHidden } : {}),
    ...(spec.kind === "cell" ? { cellGrid: grid } : {}),
    ...(options.folds ? { folds: options.folds } : {}),
    ...(options.innerFolds ? { innerFolds: options.innerFolds } : {}),
    groups,
    seed: options.seed ?? 0,
  };
  const shapeOf = (hook: string): number[] => dataset.meta.hooks.find((h) => h.name === hook)?.shape ?? [];
  // spatial maps line up with level cells only when the observation shows the whole level, and with cells in the
  // agent's frame only when it is an agent-centred window of the displacement grid's size
  const frameMatches = spec.frame === "agent" ? dataset.meta.windowed && H === grid.height && W === grid.width : !dataset.meta.windowed;
  const aligned = (shape: readonly number[]): boolean => frameMatches && shape.length === 3 && shape[1] === grid.height && shape[2] === grid.width;
  const features = (data: Float32Array, shape: readonly number[]): ProbeFeatures => {
    const d = shape.reduce((a, b) => a * b, 1);
    const picked = new Float32Array(rows.length * d);
    rows.forEach((i, k) => picked.set(data.subarray(i * d, (i + 1) * d), k * d));
    return { data: picked, n: rows.length, d, ...(aligned(shape) ? { spatial: shape as [number, number, number] } : {}) };
  };
  const probe = (data: Float32Array, shape: readonly number[]): ProbeReport => {
    // a spatial layout asked for where it cannot apply (a dense hook) falls back to flat for that arm
    const layout = options.layout === "spatial" && !(spec.kind === "cell" && aligned(shape)) ? "flat" : options.layout;
    return crossValidateProbe(features(data, shape), y, { ...base, ...(layout ? { layout } : {}) });
  };
  for (const hook of options.hooks) if (!dataset.activations.has(hook)) throw new ConfigError(`the dataset has no activations for hook "${hook}"`, `it has: ${[...dataset.activations.keys()].join(", ")}`);
  const layers = options.hooks.map((hook) => ({ source: hook, report: probe(dataset.activations.get(hook)!, shapeOf(hook)) }));
  let chosen = layers[0]!;
  for (const l of layers) if (headline(l.report) > headline(chosen.report)) chosen = l;
  // the random-init twin is probed at the chosen layer (or every layer with randomInitAllLayers)
  const twinHooks = options.randomInitAllLayers ? options.hooks : [chosen.source];
  const twin = activationsOn(randomInitTwin(policy, options.seed ?? 0), dataset, twinHooks);
  const randomInit = twinHooks.map((hook) => ({ source: hook, report: probe(twin.get(hook)!, shapeOf(hook)) }));
  const observation = { source: "observation", report: probe(dataset.obs, [C, H, W]) };
  return {
    target: options.target,
    label: spec,
    task,
    probe: options.probe ?? "linear",
    metric: task === "regression" ? "r2" : "accuracy",
    samples: rows.length,
    episodes: new Set(groups).size,
    layers,
    chosen_layer: chosen.source,
    random_init: randomInit,
    observation,
  };
}

// ---- channel search ----

export interface ChannelStudy {
  hook: string;
  target: string;
  trained: ChannelSearchResult;
  random_init: ChannelSearchResult;
  /** the random-init network's best goal correlation: the bar a channel must clear */
  threshold: number;
  /** channels of the trained network above the bar, best first */
  tracking: ChannelScore[];
}

/** Channel search at a spatial hook, thresholded by the same search on a random-init twin. */
export function channelStudy(policy: ActorCritic, dataset: ActivationDataset, hook: string, target: string, seed = 0): ChannelStudy {
  const info = dataset.meta.hooks.find((h) => h.name === hook);
  if (!info) throw new ConfigError(`the dataset has no activations for hook "${hook}"`, `it has: ${dataset.meta.hooks.map((h) => h.name).join(", ")}`);
  if (info.shape.length !== 3) throw new ConfigError(`channel search needs a spatial hook [C, h, w]; ${hook} is [${info.shape.join(", ")}]`, "choose a convolutional hook (mesa hooks RUN)");
  const { spec, values } = datasetLabel(dataset, target);
  if (!isLevelCell(spec)) {
    const kind = spec.kind === "cell" ? "a cell label in the agent's frame" : `a ${spec.kind} label`;
    throw new ConfigError(`channel search needs a level-cell label (where the goal is); "${target}" is ${kind}`, `level-cell labels: ${dataset.meta.labels.filter(isLevelCell).map((l) => l.name).join(", ")}`);
  }
  // an agent-centred window's maps are aligned with the window, so the goal is found where the window shows it
  const { grid, goal } = goalInObservationFrame(dataset, values);
  const shape = info.shape as [number, number, number];
  const trained = searchChannels(dataset.activations.get(hook)!, shape, goal, grid);
  const twin = activationsOn(randomInitTwin(policy, seed), dataset, [hook]);
  const random = searchChannels(twin.get(hook)!, shape, goal, grid);
  const threshold = Math.max(...random.ranked.map((s) => s.goal_correlation));
  return { hook, target, trained, random_init: random, threshold, tracking: trackingChannels(trained, threshold) };
}

/**
 * A cell label in the frame activation maps are aligned with: level cells when the observation shows the whole
 * level, otherwise cells of the agent-centred window (from each sample's agent position; NaN where the goal lies
 * outside the window).
 */
export function goalInObservationFrame(dataset: ActivationDataset, cells: Float64Array): { grid: { height: number; width: number }; goal: ArrayLike<number> } {
  if (!dataset.meta.windowed) return { grid: dataset.meta.level, goal: cells };
  const view = { height: dataset.meta.obs_shape[1], width: dataset.meta.obs_shape[2] };
  return { grid: view, goal: cellsInView(cells, datasetLabel(dataset, "agent_y").values, datasetLabel(dataset, "agent_x").values, dataset.meta.level, view) };
}

/**
 * The hook whose channels track the goal best: the most channels above the random-init bar, ties broken by how
 * far the best channel clears it (with no tracking channel anywhere, the largest margin wins).
 */
export function bestTrackingHook(studies: readonly ChannelStudy[]): ChannelStudy {
  const margin = (s: ChannelStudy): number => (s.trained.ranked[0]?.goal_correlation ?? Number.NEGATIVE_INFINITY) - s.threshold;
  return studies.reduce((a, b) => (b.tracking.length > a.tracking.length || (b.tracking.length === a.tracking.length && margin(b) > margin(a)) ? b : a));
}

// ---- behaviour and its baselines ----

export interface BehaviourSummary {
  episodes: number;
  /** reached the intended goal (the cheese) */
  goal_rate: number;
  goal_rate_ci95: [number, number];
  /** pursued the proxy (the corner without the cheese) */
  proxy_rate: number;
  proxy_rate_ci95: [number, number];
  /** reached one of the two: navigation still works */
  goal_or_proxy_rate: number;
  episode_length: number;
  /** per event: fraction of episodes where it fired */
  event_rates: Record<string, number>;
}

export function summarizeBehaviour(r: EvaluationResult): BehaviourSummary {
  const events: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.events)) events[k] = v.rate;
  return {
    episodes: r.episodes,
    goal_rate: r.intended_goal_rate,
    goal_rate_ci95: r.intended_goal_ci95,
    proxy_rate: r.misgeneralization_rate,
    proxy_rate_ci95: r.misgeneralization_ci95,
    goal_or_proxy_rate: r.intended_goal_rate + r.misgeneralization_rate,
    episode_length: r.episode_length,
    event_rates: events,
  };
}

export interface EpisodeSetting {
  distribution: string;
  params?: Record<string, unknown>;
  episodes: number;
  seed: number;
}

function referenceSource(kind: ScriptedKind, seed: number): ActionSource {
  let policy: ReturnType<typeof scriptedPolicy> | undefined;
  return (env, actions) => {
    policy ??= scriptedPolicy(env, kind, seed);
    policy.act(env, actions);
  };
}

export type BaselineName = "random" | "scripted_proxy" | "observation_only_intended" | "scripted_intended";

/**
 * The reference policies on the same levels: uniformly random, the scripted proxy, the observation-only intended
 * policy and the scripted intended policy (the last three only when the environment declares them).
 */
export function behaviourBaselines(def: AnyEnvDefinition, setting: EpisodeSetting): Partial<Record<BaselineName, BehaviourSummary>> {
  const run = (kind: ScriptedKind): BehaviourSummary =>
    summarizeBehaviour(evaluate(def, referenceSource(kind, setting.seed), { ...setting, ...(setting.params ? { params: setting.params } : {}) }));
  const out: Partial<Record<BaselineName, BehaviourSummary>> = { random: run("random") };
  if (def.policies) {
    out.scripted_proxy = run("proxy");
    out.observation_only_intended = run("observation-only");
    out.scripted_intended = run("intended");
  }
  return out;
}

// ---- steering ----

/**
 * The default steering hook among a model's spatial hooks (in order): the first stage's residual-block output (a mid-network map, where the study steered),
 * else the last spatial hook. On the small-maze agents −1 × the cheese vector there took 24–53 points off the
 * cheese rate; at the last spatial hook (a 2×2 map) 17 on the agent tried.
 */
export function defaultSteerHook(spatial: readonly string[]): string {
  return spatial.find((n) => n.endsWith("block.hook_resid_out")) ?? spatial.at(-1)!;
}

export interface SteerStudyOptions extends EpisodeSetting {
  hook: string;
  /** the coefficient; with `coefs`, the first of them */
  coef: number;
  /** a dose-response sweep: every coefficient is run on the same levels (the unsteered and hidden arms once) */
  coefs?: readonly number[];
  /** "per-maze": from each episode's first observation; "mean": averaged over `meanMazes` first observations */
  vector: "per-maze" | "mean";
  /** the observation channel whose presence the vector contrasts (the cheese) */
  channel: number;
  meanMazes?: number;
  greedy?: boolean;
}

export interface SteerStudy {
  hook: string;
  coef: number;
  vector: "per-maze" | "mean";
  channel: string;
  distribution: string;
  before: BehaviourSummary;
  after: BehaviourSummary;
  /** the policy with the object removed from its observation: what erasing the object's information entirely does */
  object_hidden: BehaviourSummary;
  /** after − before, in percentage points */
  goal_rate_change_pp: number;
  proxy_rate_change_pp: number;
  /** every coefficient run (the first is `coef` / `after`), in the order given */
  sweep: SteerDose[];
  baselines: ReturnType<typeof behaviourBaselines>;
}

/** One coefficient of a sweep: the steered policy's behaviour and its change from the unsteered one. */
export interface SteerDose {
  coef: number;
  after: BehaviourSummary;
  goal_rate_change_pp: number;
  proxy_rate_change_pp: number;
}

/** First observations of `count` levels of a distribution (their mazes), as [count, C, H, W]. */
export function firstObservations(def: AnyEnvDefinition, setting: { distribution: string; params?: Record<string, unknown>; seed: number }, count: number): { obs: Float32Array; shape: [number, number, number] } {
  const env = new VecEnv(def, { n: count, distribution: setting.distribution, ...(setting.params ? { params: setting.params } : {}) });
  env.reset(setting.seed);
  return { obs: env.obs.slice(), shape: env.obsShape };
}

/**
 * The policy as it is, steered, and with the object hidden, over the same levels (the three arms side by side on
 * the machine's cores when they can be: see evaluateArms), beside the baselines, which run on this thread meanwhile.
 */
export async function steerStudy(policy: ActorCritic, def: AnyEnvDefinition, options: SteerStudyOptions): Promise<SteerStudy> {
  const setting = { distribution: options.distribution, episodes: options.episodes, seed: options.seed, ...(options.params ? { params: options.params } : {}) };
  let vector: ArmVector;
  if (options.vector === "per-maze") vector = { kind: "per-episode", channel: options.channel };
  else {
    // mean over mazes drawn from another seed than the evaluation's
    const { obs, shape } = firstObservations(def, { ...setting, seed: options.seed + 7919 }, options.meanMazes ?? 256);
    const count = obs.length / (shape[0] * shape[1] * shape[2]);
    const mean = meanDifferenceVector(policy, options.hook, new Tensor(obs, [count, ...shape]), new Tensor(withoutChannel(obs, shape, options.channel), [count, ...shape]));
    vector = { kind: "fixed", data: mean.data, shape: [...mean.shape] };
  }
  const coefs = options.coefs && options.coefs.length > 0 ? options.coefs : [options.coef];
  const sampler = { rngSeed: options.seed, rngLabel: "interp/steer", greedy: options.greedy ?? false };
  const arms = evaluateArms(policy, def, setting, [
    { arm: { kind: "policy" }, ...sampler },
    { arm: { kind: "hidden", channel: options.channel }, ...sampler },
    ...coefs.map((coef) => ({ arm: { kind: "steered" as const, hook: options.hook, coef, vector }, ...sampler })),
  ]);
  const baselines = behaviourBaselines(def, setting);
  const [before, hidden, ...steered] = (await arms).map(summarizeBehaviour) as [BehaviourSummary, BehaviourSummary, ...BehaviourSummary[]];
  const sweep = coefs.map((coef, k) => ({
    coef,
    after: steered[k]!,
    goal_rate_change_pp: 100 * (steered[k]!.goal_rate - before.goal_rate),
    proxy_rate_change_pp: 100 * (steered[k]!.proxy_rate - before.proxy_rate),
  }));
  const first = sweep[0]!;
  return {
    hook: options.hook,
    coef: first.coef,
    vector: options.vector,
    channel: def.channels[options.channel]!,
    distribution: options.distribution,
    before,
    after: first.after,
    object_hidden: hidden,
    goal_rate_change_pp: first.goal_rate_change_pp,
    proxy_rate_change_pp: first.proxy_rate_change_pp,
    sweep,
    baselines,
  };
}

// ---- patching ----

export interface PatchStudyOptions {
  hooks: readonly string[];
  granularity: PatchGranularity;
  direction?: PatchDirection;
  /** the observation channel of the object that is removed or moved (the cheese) */
  channel: number;
  corruption: "remove" | "move";
  /** clean/corrupted pairs to patch (decision-relevant ones first) */
  samples: number;
  distribution: string;
  params?: Record<string, unknown>;
  seed: number;
}

export interface PatchStudy extends PolicyPatchResult {
  corruption: "remove" | "move";
  object: string;
  /** pairs whose clean and corrupted runs prefer different actions (the pairs used, when there are enough) */
  decisive_pairs: number;
}

/**
 * Clean inputs: observations from the policy's own episodes where the object is visible; corrupted: the same
 * observations with the object removed (or moved to another open cell). Pairs where the object changes the
 * preferred action are used first.
 */
export function patchStudy(policy: ActorCritic, def: AnyEnvDefinition, options: PatchStudyOptions): PatchStudy {
  const pool = Math.max(options.samples * 4, 64);
  const data = collectActivations(policy, def, { hooks: [], samples: pool, distribution: options.distribution, ...(options.params ? { params: options.params } : {}), seed: options.seed });
  const shape = data.meta.obs_shape;
  const chw = shape[0] * shape[1] * shape[2];
  const rng = new Rng(options.seed, "interp/patch/move");
  const cleanRows: number[] = [];
  for (let i = 0; i < pool; i++) if (litCells(data.obs, shape, i, options.channel).length > 0) cleanRows.push(i);
  if (cleanRows.length === 0) throw new ConfigError(`no observation shows "${def.channels[options.channel]}" on ${options.distribution} levels`, "choose a distribution or object that appears");
  const clean = new Float32Array(cleanRows.length * chw);
  cleanRows.forEach((i, k) => clean.set(data.obs.subarray(i * chw, (i + 1) * chw), k * chw));
  let corrupted = withoutChannel(clean, shape, options.channel);
  if (options.corruption === "move") {
    corrupted = clean.slice();
    for (let k = 0; k < cleanRows.length; k++) {
      const open = emptyCells(clean, shape, k);
      if (open.length > 0) moveChannel(corrupted, shape, k, options.channel, open[rng.int(open.length)]!);
    }
  }
  // prefer pairs where the object decides the action
  const a = preferredActions(noGrad(() => policy.forward(new Tensor(clean, [cleanRows.length, ...shape]))).logits);
  const b = preferredActions(noGrad(() => policy.forward(new Tensor(corrupted, [cleanRows.length, ...shape]))).logits);
  const decisive = cleanRows.map((_, k) => k).filter((k) => a[k] !== b[k]);
  const rest = cleanRows.map((_, k) => k).filter((k) => a[k] === b[k]);
  const picked = [...decisive, ...rest].slice(0, options.samples);
  const take = (src: Float32Array): Tensor => {
    const out = new Float32Array(picked.length * chw);
    picked.forEach((k, r) => out.set(src.subarray(k * chw, (k + 1) * chw), r * chw));
    return new Tensor(out, [picked.length, ...shape]);
  };
  const result = patchPolicy(policy, take(clean), take(corrupted), options.hooks, { granularity: options.granularity, ...(options.direction ? { direction: options.direction } : {}) });
  return { ...result, corruption: options.corruption, object: def.channels[options.channel]!, decisive_pairs: Math.min(decisive.length, picked.length) };
}

// ---- retargeting ----

export interface RetargetStudyOptions extends EpisodeSetting {
  hook: string;
  /** the observation channel of the goal (the cheese) and its cell label */
  channel: number;
  target: string;
  /** explicit channels, or the `top` best tracking channels (default: every channel above the random-init bar) */
  channels?: readonly number[];
  top?: number;
  /** absolute activation value, or `scale` × the chosen channels' largest activation at the goal (default 1) */
  value?: number;
  scale?: number;
  /**
   * "set" (default): write the value into the tracking channels at the target (the study's edit); "add": add
   * `scale` × the goal's signature (goalSignature, every channel unless `channels`/`top` choose) at the target
   */
  edit?: "set" | "add";
  /** hide the goal object from the observation while retargeting (default true) */
  hideGoal?: boolean;
  /** samples for the channel search dataset */
  samples?: number;
  /** a channel search already run at this hook (skips collecting a dataset) */
  channelSearch?: ChannelStudy;
  greedy?: boolean;
  /** success criterion (default "direct": within 2 × the shortest path's steps) */
  criterion?: RetargetCriterion;
}

export interface RetargetStudy extends RetargetResult {
  channel_search: Omit<ChannelStudy, "trained" | "random_init"> & { top: ChannelScore[] };
}

export async function retargetStudy(policy: ActorCritic, def: AnyEnvDefinition, options: RetargetStudyOptions): Promise<RetargetStudy> {
  const study =
    options.channelSearch?.hook === options.hook
      ? options.channelSearch
      : channelStudy(
          policy,
          collectActivations(policy, def, {
            hooks: [options.hook],
            samples: options.samples ?? 1000,
            distribution: options.distribution,
            ...(options.params ? { params: options.params } : {}),
            seed: options.seed + 104_729,
          }),
          options.hook,
          options.target,
          options.seed,
        );
  const add = options.edit === "add";
  let signature: Float32Array | undefined;
  if (add) {
    const { obs, shape } = firstObservations(def, { distribution: options.distribution, ...(options.params ? { params: options.params } : {}), seed: options.seed + 15_485_863 }, options.samples ?? 1000);
    const scale = options.scale ?? 1;
    signature = goalSignature(policy, options.hook, obs, shape, options.channel).signature.map((v) => scale * v);
  }
  let channels: number[];
  if (options.channels && options.channels.length > 0) channels = [...options.channels];
  else if (add && options.top === undefined) channels = Array.from(signature!, (_, c) => c);
  else {
    const pool = study.tracking.length > 0 ? study.tracking : study.trained.ranked.slice(0, 1);
    channels = pool.slice(0, options.top ?? pool.length).map((s) => s.channel);
  }
  const scores = channels.map((c) => study.trained.ranked.find((s) => s.channel === c)!);
  const value = options.value ?? (options.scale ?? 1) * Math.max(...scores.map((s) => s.max_at_goal));
  const result = await retargetArms(policy, def, {
    hook: options.hook,
    channels,
    value,
    episodes: options.episodes,
    distribution: options.distribution,
    ...(options.params ? { params: options.params } : {}),
    seed: options.seed,
    hideChannel: options.hideGoal === false ? null : options.channel,
    ...(signature ? { signature } : {}),
    ...(options.greedy !== undefined ? { greedy: options.greedy } : {}),
    ...(options.criterion ? { criterion: options.criterion } : {}),
  });
  const { trained, random_init: _r, ...rest } = study;
  return { ...result, channel_search: { ...rest, top: trained.ranked.slice(0, 12) } };
}

