// Retargeting: set the goal-tracking channels of a spatial hook to a chosen value at the position of a target
// cell, at every step, and see whether the agent goes there (Mini, Turner et al. 2023 set one channel to +5.5).
// Measured over many episodes with a random reachable target each, beside the same policy without the edit on
// the same levels and targets (how often it passes the target anyway) and a uniformly random policy; success is
// reported by the target's distance from the top-right corner and from the agent's start. Success is "direct" by
// default: on the target within twice the shortest path's steps (the criterion maze-cheese's proxy metric uses),
// because in small mazes a random walker stumbles onto any cell before a long episode ends; the any-time rate is
// reported beside it.
// Two edits: "set" writes `value` into the chosen channels at the target's position (the study's edit); "add" adds
// the goal's own signature there — per channel, the mean activation difference at the goal's position between the
// input with and without the goal (goalSignature) — so every channel the goal moves is moved, and only at that one
// position of the map (not an input edit: the rest of the map keeps the maze without the goal).
// Agent-centred observations (a `view` window) work too: the edit goes where the window shows the target at each
// step, and is left out while the target lies outside the window.
import { ConfigError, ShapeError } from "../core/errors.js";
import { shapeStr } from "../core/shape.js";
import { Rng } from "../core/rng.js";
import { noGrad, Tensor } from "../core/tensor.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { sampleCategorical } from "../rl/sample.js";
import { wilsonInterval } from "../rl/stats.js";
import { gridToMap } from "./channels.js";
import { litCells, withoutChannel } from "./observations.js";
import { pathDistances, topRightCell, wallCode } from "./paths.js";
import { hookActivation } from "./steering.js";

export interface RetargetOptions {
  /** a spatial hook [C, h, w] */
  hook: string;
  /** channels set at the target's position */
  channels: readonly number[];
  /** the activation value written there ("set" edit) */
  value: number;
  /** "add" edit: per channel of the hook, the amount added at the target (goalSignature); replaces `value` */
  signature?: Float32Array;
  /** episodes (one random target each) */
  episodes: number;
  distribution?: string;
  params?: Record<string, unknown>;
  seed: number;
  numEnvs?: number;
  /** a channel of the observation to hide (the cheese), so the edit is the only goal signal; null keeps it */
  hideChannel?: number | null;
  /** the arms to run (default all three) */
  arms?: readonly RetargetArm[];
  greedy?: boolean;
  /** "direct" (default): reached within 2 × the shortest path's steps; "episode": reached before the episode ends */
  criterion?: RetargetCriterion;
}

export type RetargetCriterion = "direct" | "episode";

/** Steps within which a target `distance` steps away counts as reached directly. */
export function directSteps(distance: number): number {
  return 2 * distance;
}

/**
 * "goal_at_target": the unedited policy shown the goal object itself at the target (the observation's goal
 * channel moved there; the level is unchanged) — how often the agent reaches a real goal at that cell, the
 * ceiling an edit of its internals can be compared with. It needs the goal hidden (`hideChannel`).
 */
export type RetargetArm = "retargeted" | "unedited" | "goal_at_target" | "random";

/** The arms run by default: the goal-at-target control only when the goal is hidden (its channel known). */
export function defaultRetargetArms(hideChannel: number | null): RetargetArm[] {
  return hideChannel === null ? ["retargeted", "unedited", "random"] : ["retargeted", "unedited", "goal_at_target", "random"];
}

/** One episode's target and whether each arm reached it. */
export interface RetargetEpisode {
  target: number;
  start: number;
  /** path steps from the start to the target */
  start_distance: number;
  /** straight-line distance (in cells) from the target to the top-right open cell */
  corner_distance: number;
  /** reached under the result's criterion */
  reached: Partial<Record<RetargetArm, boolean>>;
  /** steps the agent took to stand on the target (−1: not before the episode ended) */
  steps: Partial<Record<RetargetArm, number>>;
}

export interface RateWithCi {
  rate: number;
  ci95: [number, number];
  n: number;
}

export interface DistanceBin {
  /** [lo, hi) of the distance */
  range: [number, number];
  episodes: number;
  rates: Partial<Record<RetargetArm, RateWithCi>>;
}

export interface RetargetResult {
  hook: string;
  channels: number[];
  value: number;
  /** "set": `value` written into `channels`; "add": the goal's signature added in `channels` */
  edit: "set" | "add";
  episodes: number;
  hidden_channel: number | null;
  criterion: RetargetCriterion;
  /** rate of reaching the target under the criterion, per arm */
  success: Partial<Record<RetargetArm, RateWithCi>>;
  /** rate of reaching it at any time before the episode ended, per arm */
  success_any_time: Partial<Record<RetargetArm, RateWithCi>>;
  by_corner_distance: DistanceBin[];
  by_start_distance: DistanceBin[];
  /** per grid cell: episodes targeting it and the retargeted success rate there (null where never a target) */
  per_cell: { height: number; width: number; targets: number[]; success: (number | null)[] };
  records: RetargetEpisode[];
}

const CORNER_BINS: [number, number][] = [[0, 2], [2, 4], [4, 8], [8, 16], [16, Infinity]];
const START_BINS: [number, number][] = [[1, 5], [5, 9], [9, 17], [17, 33], [33, Infinity]];

function rate(successes: number, n: number): RateWithCi {
  const w = wilsonInterval(successes, n);
  return { rate: w.value, ci95: w.ci95, n };
}

/** Targets: for episode k of copy i, a uniformly drawn reachable open cell that is not the start or an object. */
function drawTarget(env: VecEnv, i: number, seed: number, wall: number, dist: Int32Array, queue: Int32Array): { target: number; start: number; startDistance: number; cornerDistance: number } {
  const { height: h, width: w } = env;
  const start = env.agentY[i]! * w + env.agentX[i]!;
  pathDistances(env, i, start, wall, dist, queue);
  const open: number[] = [];
  const base = i * h * w;
  for (let c = 0; c < h * w; c++) if (c !== start && dist[c]! > 0 && env.grid[base + c] === 0) open.push(c);
  if (open.length === 0) throw new ConfigError(`${env.def.name}: a level has no open cell to retarget to`);
  const rng = new Rng(seed, "interp/retarget", env.indexOffset + i, env.episode[i]!);
  const target = open[rng.int(open.length)]!;
  const corner = topRightCell(env, i, wall);
  const cornerDistance = Math.hypot(Math.floor(target / w) - Math.floor(corner / w), (target % w) - (corner % w));
  return { target, start, startDistance: dist[target]!, cornerDistance };
}

/**
 * Runs one arm over the same (level, target) sequence: copy i plays its episodes 0, 1, … and stops an
 * episode as soon as the agent stands on the target. Returns each episode's steps to the target (−1: never).
 */
function runArm(policy: ActorCritic, def: AnyEnvDefinition, options: RetargetOptions, arm: RetargetArm, records: RetargetEpisode[] | null): number[] {
  const n = Math.min(options.numEnvs ?? 64, options.episodes);
  const env = new VecEnv(def, { n, distribution: options.distribution ?? "deploy", ...(options.params ? { params: options.params } : {}) });
  const wall = wallCode(def);
  if (wall < 0) throw new ConfigError(`${def.name} has no wall tile, so reachable targets cannot be drawn`, "retargeting needs a grid environment with walls (e.g. maze-cheese)");
  // the observation: the whole level, or a window centred on the agent (then the target's place in the
  // activation maps moves with the agent, and the edit is skipped while the target is outside the window)
  const [C, H, W] = env.obsShape;
  const levelCells = env.height * env.width;
  const dist = new Int32Array(levelCells);
  const queue = new Int32Array(levelCells);
  const quota = new Int32Array(n);
  for (let i = 0; i < n; i++) quota[i] = Math.floor(options.episodes / n) + (i < options.episodes % n ? 1 : 0);
  // episode slot of copy i's k-th episode in `records` (copy-major, so every arm fills the same slots)
  const slotBase = new Int32Array(n);
  for (let i = 1; i < n; i++) slotBase[i] = slotBase[i - 1]! + quota[i - 1]!;
  const done = new Int32Array(n);
  const reached: number[] = new Array<number>(options.episodes).fill(-1);
  const targets = new Int32Array(n);
  const steps = new Int32Array(n); // steps taken toward the current target
  const rng = new Rng(options.seed, "interp/retarget/actions", arm === "random" ? 1 : 0);
  const actions = new Int32Array(n);
  const hidden = options.hideChannel ?? null;
  env.reset(options.seed);
  const begin = (i: number): void => {
    const t = drawTarget(env, i, options.seed, wall, dist, queue);
    targets[i] = t.target;
    steps[i] = 0;
    const slot = slotBase[i]! + done[i]!;
    if (records && slot < options.episodes) {
      records[slot] = { target: t.target, start: t.start, start_distance: t.startDistance, corner_distance: t.cornerDistance, reached: {}, steps: {} };
    }
  };
  for (let i = 0; i < n; i++) begin(i);
  let remaining = options.episodes;
  const finish = (i: number, success: boolean): void => {
    if (done[i]! >= quota[i]!) return;
    reached[slotBase[i]! + done[i]!] = success ? steps[i]! : -1;
    done[i]!++;
    remaining--;
  };
  let guard = 0;
  while (remaining > 0) {
    if (++guard > (options.episodes + n) * (env.maxSteps + 2)) throw new Error("retarget: episodes did not finish");
    const obs = hidden === null ? env.obs : withoutChannel(env.obs, env.obsShape, hidden);
    if (arm === "goal_at_target") {
      for (let i = 0; i < n; i++) {
        const [oy, ox] = env.viewOrigin(i);
        const y = Math.floor(targets[i]! / env.width) - oy;
        const x = (targets[i]! % env.width) - ox;
        if (y >= 0 && y < H && x >= 0 && x < W) obs[((i * C + hidden!) * H + y) * W + x] = 1;
      }
    }
    const input = new Tensor(obs, [n, C, H, W]);
    if (arm === "random") {
      for (let i = 0; i < n; i++) actions[i] = rng.int(env.numActions);
    } else {
      const edit = (a: Tensor): Tensor | undefined => {
        if (arm !== "retargeted") return undefined;
        if (a.shape.length !== 4) throw new ShapeError(`retargeting needs a spatial hook [C, h, w]; ${options.hook} is ${shapeStr(a.shape.slice(1))}`, "choose a convolutional hook (mesa hooks RUN)");
        const [, Ch, h, w] = a.shape as [number, number, number, number];
        for (const c of options.channels) if (!(c >= 0 && c < Ch)) throw new ConfigError(`channel ${c} is out of range for ${options.hook} (${Ch} channels)`);
        const signature = options.signature;
        if (signature && signature.length !== Ch) throw new ShapeError(`the goal signature has ${signature.length} channels; ${options.hook} has ${Ch}`, "compute the signature at the same hook of the same model");
        const out = a.data.slice();
        for (let i = 0; i < n; i++) {
          const t = targets[i]!;
          const [oy, ox] = env.viewOrigin(i);
          const y = Math.floor(t / env.width) - oy;
          const x = (t % env.width) - ox;
          if (y < 0 || y >= H || x < 0 || x >= W) continue;
          const p = gridToMap(y, x, { height: H, width: W }, h, w);
          for (const c of options.channels) {
            const k = ((i * Ch + c) * h + Math.floor(p / w)) * w + (p % w);
            out[k] = signature ? out[k]! + signature[c]! : options.value;
          }
        }
        return new Tensor(out, a.shape);
      };
      const { logits } = noGrad(() => policy.runWithHooks(input, { [options.hook]: edit }));
      sampleCategorical(logits.data, n, env.numActions, rng, actions, undefined, options.greedy ?? false);
    }
    env.step(actions);
    for (let i = 0; i < n; i++) {
      if (done[i]! >= quota[i]!) continue;
      steps[i]!++;
      const ended = (env.terminated[i]! | env.truncated[i]!) !== 0;
      // where the agent stands after this step (the finished episode's last position when it ended)
      const here = ended ? env.finished.agentY[i]! * env.width + env.finished.agentX[i]! : env.agentY[i]! * env.width + env.agentX[i]!;
      if (here === targets[i]) {
        finish(i, true);
        if (!ended) env.startEpisode(i);
        if (done[i]! < quota[i]!) begin(i);
      } else if (ended) {
        finish(i, false);
        if (done[i]! < quota[i]!) begin(i);
      }
    }
  }
  return reached;
}

function bins(records: RetargetEpisode[], ranges: [number, number][], key: "corner_distance" | "start_distance", arms: readonly RetargetArm[]): DistanceBin[] {
  return ranges.map((range) => {
    const inBin = records.filter((r) => r[key] >= range[0] && r[key] < range[1]);
    const rates: Partial<Record<RetargetArm, RateWithCi>> = {};
    for (const arm of arms) rates[arm] = rate(inBin.filter((r) => r.reached[arm]).length, inBin.length);
    return { range, episodes: inBin.length, rates };
  });
}

/** One arm's run: each episode's steps to the target (−1: never), and the episodes' targets when asked for. */
export interface RetargetArmRun {
  steps: number[];
  records: RetargetEpisode[] | null;
}

/** Checks the options and returns the arms to run (every arm plays the same levels and targets). */
export function retargetArmsOf(options: RetargetOptions): RetargetArm[] {
  if (!Number.isInteger(options.episodes) || options.episodes < 1) throw new ConfigError(`retarget episodes must be a positive integer, got ${options.episodes}`);
  if (options.channels.length === 0) throw new ConfigError("retargeting needs at least one channel", "pass channels found by channel search (--channels or --top)");
  const arms = [...(options.arms ?? defaultRetargetArms(options.hideChannel ?? null))];
  if (arms.includes("goal_at_target") && (options.hideChannel ?? null) === null) throw new ConfigError("the goal-at-target arm needs the goal's channel hidden (hideChannel)", "leave the goal hidden, or drop the goal_at_target arm");
  return arms;
}

/** Runs one arm (on any thread: it depends only on the policy's parameters and the options). */
export function retargetArm(policy: ActorCritic, def: AnyEnvDefinition, options: RetargetOptions, arm: RetargetArm, withRecords: boolean): RetargetArmRun {
  const records = withRecords ? new Array<RetargetEpisode>(options.episodes) : null;
  return { steps: runArm(policy, def, options, arm, records), records };
}

/** Runs the retargeting arms on the same levels and targets, one after the other, and tabulates success. */
export function retarget(policy: ActorCritic, def: AnyEnvDefinition, options: RetargetOptions): RetargetResult {
  const arms = retargetArmsOf(options);
  return tabulateRetarget(def, options, arms, arms.map((arm, k) => retargetArm(policy, def, options, arm, k === 0)));
}

/** The result from every arm's run (`runs` in the arms' order; the first carries the episodes' targets). */
export function tabulateRetarget(def: AnyEnvDefinition, options: RetargetOptions, arms: readonly RetargetArm[], runs: readonly RetargetArmRun[]): RetargetResult {
  const criterion = options.criterion ?? "direct";
  const records = runs[0]!.records!;
  arms.forEach((arm, k) => {
    runs[k]!.steps.forEach((t, slot) => {
      const r = records[slot]!;
      r.steps[arm] = t;
      r.reached[arm] = t >= 0 && (criterion === "episode" || t <= directSteps(r.start_distance));
    });
  });
  const success: Partial<Record<RetargetArm, RateWithCi>> = {};
  const anyTime: Partial<Record<RetargetArm, RateWithCi>> = {};
  for (const arm of arms) {
    success[arm] = rate(records.filter((r) => r.reached[arm]).length, records.length);
    anyTime[arm] = rate(records.filter((r) => r.steps[arm]! >= 0).length, records.length);
  }
  const env = new VecEnv(def, { n: 1, distribution: options.distribution ?? "deploy", ...(options.params ? { params: options.params } : {}) });
  const cells = env.height * env.width;
  const targets = new Array<number>(cells).fill(0);
  const hits = new Array<number>(cells).fill(0);
  const main = arms[0]!;
  for (const r of records) {
    targets[r.target]!++;
    if (r.reached[main]) hits[r.target]!++;
  }
  return {
    hook: options.hook,
    channels: [...options.channels],
    value: options.value,
    edit: options.signature ? "add" : "set",
    episodes: options.episodes,
    hidden_channel: options.hideChannel ?? null,
    criterion,
    success,
    success_any_time: anyTime,
    by_corner_distance: bins(records, CORNER_BINS, "corner_distance", arms),
    by_start_distance: bins(records, START_BINS, "start_distance", arms),
    per_cell: { height: env.height, width: env.width, targets, success: targets.map((t, c) => (t > 0 ? hits[c]! / t : null)) },
    records,
  };
}

/**
 * The goal's signature at a spatial hook: per channel, the mean over `obs`'s samples showing the goal of
 * act(obs)[c, p] − act(obs without the goal)[c, p], where p is the goal's position on the hook's map (the map cell
 * the goal's tile falls in, as the edit places targets). Samples without the goal are skipped.
 */
export function goalSignature(policy: ActorCritic, hook: string, obs: Float32Array, shape: readonly [number, number, number], goalChannel: number): { signature: Float32Array; samples: number } {
  const [C, H, W] = shape;
  const count = obs.length / (C * H * W);
  const rows: number[] = [];
  const goal: number[] = [];
  for (let b = 0; b < count; b++) {
    const lit = litCells(obs, shape, b, goalChannel);
    if (lit.length === 0) continue;
    rows.push(b);
    goal.push(lit[0]!);
  }
  if (rows.length === 0) throw new ConfigError("no observation shows the goal, so its signature cannot be measured", "collect observations from levels where the goal is visible");
  const take = new Float32Array(rows.length * C * H * W);
  rows.forEach((b, k) => take.set(obs.subarray(b * C * H * W, (b + 1) * C * H * W), k * C * H * W));
  const a = hookActivation(policy, hook, new Tensor(take, [rows.length, C, H, W]));
  const b = hookActivation(policy, hook, new Tensor(withoutChannel(take, shape, goalChannel), [rows.length, C, H, W]));
  if (a.shape.length !== 4) throw new ShapeError(`a goal signature needs a spatial hook [C, h, w]; ${hook} is ${shapeStr(a.shape.slice(1))}`, "choose a convolutional hook (mesa hooks RUN)");
  const [, Ch, h, w] = a.shape as [number, number, number, number];
  const signature = new Float32Array(Ch);
  rows.forEach((_, k) => {
    const p = gridToMap(Math.floor(goal[k]! / W), goal[k]! % W, { height: H, width: W }, h, w);
    for (let c = 0; c < Ch; c++) {
      const at = ((k * Ch + c) * h + Math.floor(p / w)) * w + (p % w);
      signature[c]! += (a.data[at]! - b.data[at]!) / rows.length;
    }
  });
  return { signature, samples: rows.length };
}
