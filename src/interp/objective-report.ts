// Objective analysis on an environment's levels, for the CLI and experiments:
//  - `scoreRewardMaps`: how much reward a planner's readable reward map (its mesa-objective) puts on each
//    candidate objective the environment declares — mean map value at the candidate's goal cells, Spearman
//    rank correlation between the map and the candidate's map over the cells the agent can reach, and how
//    often the map's highest cell is one of the candidate's goals — each over levels with a 95% interval;
//    with learned transitions, also how well its passability map matches the observation's walls;
//  - `inferFromBehaviour`: behavioural objective inference for any policy on disambiguating levels drawn from
//    a distribution (objective-inference.ts), with revealed preferences.
import { ConfigError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import type { EnvObjectives, TabularLevel } from "../envs/objectives.js";
import type { PlannerActorCritic } from "../nn/models/planner.js";
import type { ActionSource } from "../rl/evaluate.js";
import { type Estimate, meanInterval } from "../rl/stats.js";
import { auroc } from "./metrics.js";
import { scriptedPolicy } from "../envs/scripted.js";
import {
  type InferenceLevel,
  type ObjectiveInference,
  type ObservedEpisode,
  type RevealedPreference,
  disambiguationScore,
  inferObjective,
  revealedPreferences,
} from "./objective-inference.js";

/** The env's declared candidates, or a ConfigError naming the envs that have them. */
export function envObjectives(def: AnyEnvDefinition, all: Readonly<Record<string, AnyEnvDefinition>>): EnvObjectives {
  if (!def.objectives) {
    const having = Object.values(all).filter((d) => d.objectives).map((d) => d.name);
    throw new ConfigError(`${def.name} declares no candidate objectives`, `objective analysis works on: ${having.join(", ") || "(none yet)"}`);
  }
  return def.objectives;
}

/** States reachable from the level's start (the cells a plan can involve), as a mask. */
export function reachableStates(level: TabularLevel): Uint8Array {
  const seen = new Uint8Array(level.states);
  const queue = [level.start];
  seen[level.start] = 1;
  while (queue.length > 0) {
    const s = queue.pop()!;
    if (level.terminal[s] && s !== level.start) continue;
    for (let a = 0; a < level.actions; a++) {
      const t = level.next[s * level.actions + a]!;
      if (!seen[t]) {
        seen[t] = 1;
        queue.push(t);
      }
    }
  }
  return seen;
}

/** Average ranks (ties share the mean rank), as Spearman's correlation needs. */
function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (NaN when either side is constant). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i]! - ma) * (rb[i]! - mb);
    saa += (ra[i]! - ma) ** 2;
    sbb += (rb[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

export interface CandidateMapScore {
  name: string;
  doc: string;
  /** mean reward-map value at the candidate's goal cells (per level, then over levels) */
  mean_value: Estimate;
  /** Spearman correlation between the reward map and the candidate's map over reachable cells */
  rank_correlation: Estimate;
  /** mean planned worth of entering the candidate's goal cells (reward, termination and the plan after it) */
  planned_value: Estimate;
  /** fraction of levels whose reachable cell of highest planned worth is one of the candidate's goal cells */
  top_cell_rate: number;
  /** levels where the candidate had a reachable goal cell */
  levels: number;
}

export interface RewardMapReport {
  env: string;
  distribution: string;
  levels: number;
  candidates: CandidateMapScore[];
  /** the candidate whose goals the planner values most (highest mean planned worth): the glass-box answer; null when no level separates the candidates */
  top: string | null;
  /**
   * what decided `top`: planned worth at the goals, or — when the candidates share their goal cells — rank
   * correlation; "undecided" when the candidates' maps were identical on every level read
   */
  top_by: "planned worth" | "rank correlation" | "undecided";
  /** levels on which the candidates' maps differ (over the cells counted) */
  separating_levels: number;
  /** with learned transitions (seen whole), its passability map against the observation's walls; else null */
  passability: PassabilityReading | null;
  /** per scored level: the level read, the reward, termination and planned-worth maps ([h·w]), reachable cells and the candidates' maps */
  samples: { view: LevelView; reward: Float32Array; termination: Float32Array; entering: Float32Array; reachable: Uint8Array; candidateMaps: Float32Array[] }[];
}

/**
 * A planner's learned passability against the walls its observation shows (the channel named "wall": what the
 * planner that reads walls by name would block), over every cell of each level read.
 */
export interface PassabilityReading {
  /** per level, the probability that an open cell's passability exceeds a wall cell's (ties half); then over levels */
  auc: Estimate;
  /** per level, the fraction of cells on the right side of 0.5 (open above, wall below) */
  accuracy: Estimate;
  /** mean passability of open cells and of wall cells, over levels */
  open_mean: Estimate;
  wall_mean: Estimate;
  levels: number;
}

/** The channel lit outside the level in a window (the env's `viewOutside` tile), or -1. */
function outsideChannel(env: VecEnv): number {
  const name = env.def.viewOutside;
  if (name === undefined) return -1;
  const tile = env.def.tiles.find((t) => t.name === name);
  return tile?.channel ? env.channels.indexOf(tile.channel) : -1;
}

/**
 * Observations of copy i's level as the agent would see them from each of `positions` (level cells), as the
 * engine draws a window: [P, C, vh, vw], the agent's channel lit at the probe position, cells outside the level
 * showing the env's `viewOutside` tile. With the window's level origin of each probe.
 */
export function probeObservations(env: VecEnv, i: number, positions: readonly number[]): { obs: Float32Array; origins: [number, number][] } {
  const { height: h, width: w, viewHeight: vh, viewWidth: vw, numChannels: C } = env;
  const agentChannel = env.channels.indexOf(env.def.agent.channel);
  const outside = outsideChannel(env);
  const per = C * vh * vw;
  const obs = new Float32Array(positions.length * per);
  const origins: [number, number][] = [];
  positions.forEach((pos, p) => {
    const py = (pos / w) | 0;
    const px = pos - py * w;
    const oy = vh === h ? 0 : py - ((vh - 1) >> 1);
    const ox = vw === w ? 0 : px - ((vw - 1) >> 1);
    origins.push([oy, ox]);
    for (let wy = 0; wy < vh; wy++) {
      for (let wx = 0; wx < vw; wx++) {
        const y = oy + wy;
        const x = ox + wx;
        const inside = y >= 0 && y < h && x >= 0 && x < w;
        for (let c = 0; c < C; c++) {
          let lit: boolean;
          if (c === agentChannel) lit = y === py && x === px;
          else if (!inside) lit = c === outside;
          else lit = env.levelChannel(i, c, y, x);
          if (lit) obs[p * per + (c * vh + wy) * vw + wx] = 1;
        }
      }
    }
  });
  return { obs, origins };
}

/** A planner's readable maps over copy i's level cells: reward, termination and planned worth, and how often each cell was seen. */
interface LevelMaps {
  /** the planner's passability map (learned transitions, whole level seen), else null */
  passability: Float32Array | null;
  reward: Float32Array;
  termination: Float32Array;
  entering: Float32Array;
  /** how many probes saw each cell (0 = never observed) */
  seen: Float32Array;
}

/**
 * The planner's maps of copy i's level. Seeing the whole level, it reads the current observation. Seeing a
 * window, it reads the window from every reachable non-terminal cell and averages each level cell over the
 * windows that show it: the level as the planner values it from wherever it may stand.
 */
function levelMaps(policy: PlannerActorCritic, env: VecEnv, i: number, level: TabularLevel, reach: Uint8Array): LevelMaps {
  const S = env.height * env.width;
  const out: LevelMaps = { passability: null, reward: new Float32Array(S), termination: new Float32Array(S), entering: new Float32Array(S), seen: new Float32Array(S) };
  if (!env.windowed) {
    const per = env.numChannels * S;
    const m = policy.mesaObjective(new Tensor(env.obs.slice(i * per, (i + 1) * per), [1, ...env.obsShape]));
    out.reward.set(m.reward.data);
    out.termination.set(m.termination.data);
    out.entering.set(m.entering.data);
    out.seen.fill(1);
    if (m.passability) out.passability = m.passability.data.slice();
    return out;
  }
  const positions: number[] = [];
  for (let s = 0; s < S; s++) if (reach[s] && (!level.terminal[s] || s === level.start)) positions.push(s);
  const { obs, origins } = probeObservations(env, i, positions);
  const m = policy.mesaObjective(new Tensor(obs, [positions.length, ...env.obsShape]));
  const { height: h, width: w, viewHeight: vh, viewWidth: vw } = env;
  const vhw = vh * vw;
  origins.forEach(([oy, ox], p) => {
    for (let wy = 0; wy < vh; wy++) {
      for (let wx = 0; wx < vw; wx++) {
        const y = oy + wy;
        const x = ox + wx;
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const s = y * w + x;
        const k = p * vhw + wy * vw + wx;
        out.reward[s]! += m.reward.data[k]!;
        out.termination[s]! += m.termination.data[k]!;
        out.entering[s]! += m.entering.data[k]!;
        out.seen[s]!++;
      }
    }
  });
  for (let s = 0; s < S; s++) {
    const n = out.seen[s]!;
    if (n > 0) {
      out.reward[s]! /= n;
      out.termination[s]! /= n;
      out.entering[s]! /= n;
    }
  }
  return out;
}

/** A level to read: copy i of env, in its current state. */
export interface LevelView {
  env: VecEnv;
  i: number;
}

/** Do the candidates' maps differ anywhere? */
function mapsDiffer(maps: readonly Float32Array[]): boolean {
  return maps.some((m) => m.some((v, s) => v !== maps[0]![s]));
}

/**
 * The levels of a distribution on which to read a planner's map against the candidates: `n` levels drawn at
 * `seed`, each in its first state where the candidates' maps differ. Usually that is the level's start. Where
 * goals are collected items and the candidates come apart only later (points-bug: once the glitched coin has
 * been paid; keys-chests: while a key is held), the level is played by the env's scripted intended policy up to
 * that state (replayed in a copy of its own, same level stream) and read there; a level that never gets there
 * within its first episode is left out.
 */
export function readingLevels(def: AnyEnvDefinition, objectives: EnvObjectives, o: { n: number; distribution: string; params: Record<string, unknown>; seed: number }): LevelView[] {
  const make = (n: number, indexOffset = 0): VecEnv => {
    const env = new VecEnv(def, { n, distribution: o.distribution, params: o.params, indexOffset });
    env.reset(o.seed);
    return env;
  };
  const env = make(o.n);
  const all = Array.from({ length: o.n }, (_, i) => ({ env, i }));
  if (!objectives.collected || !def.policies || all.every(({ i }) => mapsDiffer(objectives.maps(env, i)))) return all;
  const at = new Int32Array(o.n).fill(-1); // step at which copy i's maps first differ
  const done = new Uint8Array(o.n);
  const policy = scriptedPolicy(env, "intended");
  const a = new Int32Array(o.n);
  for (let t = 0; t <= env.maxSteps; t++) {
    let open = 0;
    for (let i = 0; i < o.n; i++) {
      if (done[i] || at[i]! >= 0) continue;
      if (mapsDiffer(objectives.maps(env, i))) at[i] = t;
      else open++;
    }
    if (open === 0 || t === env.maxSteps) break;
    policy.act(env, a);
    env.step(a);
    for (let i = 0; i < o.n; i++) if (at[i]! < 0 && (env.terminated[i]! | env.truncated[i]!) !== 0) done[i] = 1;
  }
  const views: LevelView[] = [];
  for (let i = 0; i < o.n; i++) {
    if (at[i]! < 0) continue;
    const one = make(1, i);
    const replay = scriptedPolicy(one, "intended");
    const a1 = new Int32Array(1);
    for (let t = 0; t < at[i]!; t++) {
      replay.act(one, a1);
      one.step(a1);
    }
    views.push({ env: one, i: 0 });
  }
  return views;
}

/**
 * Scores a planner's reward map on the given levels (see readingLevels). A planner that sees a window is read
 * from every cell it could stand on (levelMaps), so goals outside the first view count too.
 */
export function scoreRewardMaps(policy: PlannerActorCritic, views: readonly LevelView[], objectives: EnvObjectives, keepSamples = 6): RewardMapReport {
  if (views.length === 0) throw new ConfigError("no level to read the reward map on: no level separated the candidates within an episode", "read more levels (--levels) or another distribution");
  const { env: first } = views[0]!;
  const S = first.height * first.width;
  const C = objectives.candidates.length;
  const means: number[][] = Array.from({ length: C }, () => []);
  const planned: number[][] = Array.from({ length: C }, () => []);
  const rhos: number[][] = Array.from({ length: C }, () => []);
  const tops = new Int32Array(C);
  const counts = new Int32Array(C);
  const samples: RewardMapReport["samples"] = [];
  const wallChannel = first.channels.indexOf("wall");
  const gates = { auc: [] as number[], accuracy: [] as number[], open: [] as number[], wall: [] as number[] };
  let scored = 0;
  let separating = 0;
  for (const view of views) {
    const { env, i } = view;
    scored++;
    const maps = objectives.maps(env, i);
    const level = objectives.level(env, i);
    const reach = reachableStates(level);
    const lm = levelMaps(policy, env, i, level, reach);
    const r = lm.reward;
    const worth = lm.entering;
    if (lm.passability && wallChannel >= 0) readPassability(lm.passability, env, i, wallChannel, gates);
    // cells that count: reachable and seen by the planner
    const counted = (s: number): boolean => reach[s] === 1 && lm.seen[s]! > 0;
    // the most valuable counted cell other than the agent's own
    let topCell = -1;
    for (let s = 0; s < S; s++) if (counted(s) && s !== level.start && (topCell < 0 || worth[s]! > worth[topCell]!)) topCell = s;
    let differ = false;
    for (let s = 0; s < S && !differ; s++) if (counted(s)) for (let c = 1; c < C; c++) if (maps[c]![s] !== maps[0]![s]) differ = true;
    if (differ) separating++;
    for (let c = 0; c < C; c++) {
      const m = maps[c]!;
      let sum = 0;
      let worthSum = 0;
      let k = 0;
      const xs: number[] = [];
      const ys: number[] = [];
      for (let s = 0; s < S; s++) {
        if (!counted(s)) continue;
        xs.push(r[s]!);
        ys.push(m[s]!);
        if (m[s]! > 0) {
          sum += r[s]!;
          worthSum += worth[s]!;
          k++;
        }
      }
      if (k === 0) continue; // no reachable, observed goal of this candidate on this level
      counts[c]!++;
      means[c]!.push(sum / k);
      planned[c]!.push(worthSum / k);
      const rho = spearman(xs, ys);
      if (Number.isFinite(rho)) rhos[c]!.push(rho);
      if (topCell >= 0 && m[topCell]! > 0) tops[c]!++;
    }
    if (samples.length < keepSamples) {
      const reachable = new Uint8Array(S);
      for (let s = 0; s < S; s++) reachable[s] = counted(s) ? 1 : 0;
      samples.push({ view, reward: r, termination: lm.termination, entering: worth, reachable, candidateMaps: maps });
    }
  }
  const candidates = objectives.candidates.map((cand, c) => ({
    name: cand.name,
    doc: cand.doc,
    mean_value: meanInterval(means[c]!),
    rank_correlation: meanInterval(rhos[c]!),
    planned_value: meanInterval(planned[c]!),
    top_cell_rate: counts[c]! > 0 ? tops[c]! / counts[c]! : Number.NaN,
    levels: counts[c]!,
  }));
  let top = 0;
  for (let c = 1; c < C; c++) if (candidates[c]!.planned_value.value > candidates[top]!.planned_value.value) top = c;
  // candidates with the same goal cells (absent-supervisor: the goal, with or without the punishment tile's
  // penalty) have the same planned worth there: the map's rank correlation with each candidate decides
  let topBy: RewardMapReport["top_by"] = "planned worth";
  if (separating === 0) topBy = "undecided";
  else if (candidates.every((c) => c.planned_value.value === candidates[0]!.planned_value.value)) {
    topBy = "rank correlation";
    top = 0;
    for (let c = 1; c < C; c++) if (candidates[c]!.rank_correlation.value > candidates[top]!.rank_correlation.value) top = c;
  }
  return {
    env: first.def.name,
    distribution: first.distribution,
    levels: scored,
    candidates,
    top: topBy === "undecided" ? null : candidates[top]!.name,
    top_by: topBy,
    separating_levels: separating,
    passability: gates.auc.length === 0 ? null : { auc: meanInterval(gates.auc), accuracy: meanInterval(gates.accuracy), open_mean: meanInterval(gates.open), wall_mean: meanInterval(gates.wall), levels: gates.auc.length },
    samples,
  };
}

/** One level's passability map against its wall channel, appended to `into` (AUC, accuracy at 0.5, mean passability of open and of wall cells). */
function readPassability(passability: Float32Array, env: VecEnv, i: number, wallChannel: number, into: { auc: number[]; accuracy: number[]; open: number[]; wall: number[] }): void {
  const S = passability.length;
  const walls = env.obs.subarray((i * env.numChannels + wallChannel) * S, (i * env.numChannels + wallChannel + 1) * S);
  const open = Float32Array.from(walls, (w) => (w > 0.5 ? 0 : 1));
  let right = 0;
  let openSum = 0;
  let wallSum = 0;
  let opens = 0;
  for (let s = 0; s < S; s++) {
    const p = passability[s]!;
    if (open[s] === 1) {
      opens++;
      openSum += p;
      if (p > 0.5) right++;
    } else {
      wallSum += p;
      if (p < 0.5) right++;
    }
  }
  if (opens === 0 || opens === S) return; // one class only: nothing to separate
  into.auc.push(auroc(passability, open));
  into.accuracy.push(right / S);
  into.open.push(openSum / opens);
  into.wall.push(wallSum / (S - opens));
}

export interface BehaviouralInferenceOptions {
  distribution: string;
  params?: Record<string, unknown>;
  /** disambiguating levels to collect */
  levels: number;
  seed: number;
  /** copies per batch of candidate levels (default: twice the levels wanted, between 16 and 256) */
  batch?: number;
  /** batches to draw at most before giving up (default 20) */
  maxBatches?: number;
  bootstrap?: number;
  gamma?: number;
  /** where goals are collected: stretches kept per episode at most (default 2), so the evidence spans many episodes */
  stretchesPerEpisode?: number;
  /**
   * score actions only up to the first goal any candidate rewards (default true); false scores whole episodes
   * (the inference before that cut, kept to show what it changes)
   */
  untilFirstGoal?: boolean;
  /** the policy acts deterministically (greedy): each (state, action) pair counts once per episode (InferenceOptions.deterministic) */
  deterministic?: boolean;
}

export interface BehaviouralInference extends ObjectiveInference {
  revealed: RevealedPreference;
  /** levels drawn to find the disambiguating ones */
  levels_drawn: number;
  /** disambiguating levels (or, where goals are collected, stretches between goals) scored */
  levels_used: number;
  /** episodes they came from */
  episodes_used: number;
}

/** One stretch of an episode: the level as it was when the stretch began, and what the agent did in it. */
interface Stretch {
  level: InferenceLevel;
  states: number[];
  actions: number[];
}

/**
 * Steps every copy of `env` with `act` until each copy's first episode ends (or `maxSteps`), recording copy i's
 * states and actions. A stretch ends with the step that enters a state some candidate rewards (the inference
 * scores no action after it): where goals are `collected`, a new stretch begins there, with the level re-read
 * as it then is (the item is gone, the agent may hold a key); otherwise the copy's recording ends — an agent
 * that reached a goal and wanders on is not asked for actions nobody scores. Copies with `skip[i]` set are
 * not recorded (and their actions not asked for): the caller has no use for them.
 */
function recordStretches(env: VecEnv, act: ActionSource, read: (i: number) => InferenceLevel, collected: boolean, skip: Uint8Array | null, untilFirstGoal: boolean, maxSteps = env.maxSteps): Stretch[][] {
  const n = env.n;
  const out: Stretch[][] = Array.from({ length: n }, (_, i) => (skip?.[i] ? [] : [{ level: read(i), states: [], actions: [] }]));
  const done = new Uint8Array(n);
  const active = new Uint8Array(n);
  const entered = new Int32Array(n);
  const a = new Int32Array(n);
  let open = n;
  for (let i = 0; i < n; i++) {
    if (skip?.[i]) {
      done[i] = 1;
      open--;
    }
  }
  for (let t = 0; t < maxSteps && open > 0; t++) {
    for (let i = 0; i < n; i++) active[i] = done[i] ? 0 : 1;
    act(env, a, active);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const cur = out[i]![out[i]!.length - 1]!;
      const s = env.agentY[i]! * env.width + env.agentX[i]!;
      cur.states.push(s);
      cur.actions.push(a[i]!);
      entered[i] = cur.level.level.next[s * cur.level.level.actions + a[i]!]!;
    }
    env.step(a);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const goal = out[i]![out[i]!.length - 1]!.level.rewards.some((r) => r[entered[i]!]! > 0);
      if ((env.terminated[i]! | env.truncated[i]!) !== 0 || (goal && !collected && untilFirstGoal)) {
        done[i] = 1;
        open--;
      } else if (goal && collected) {
        out[i]!.push({ level: read(i), states: [], actions: [] });
      }
    }
  }
  return out;
}

/**
 * Runs `act` (any policy) on disambiguating levels of a distribution and infers its objective among the env's
 * candidates. Levels come in batches of copies reset at seed, seed + 1, …; a copy's first episode counts when
 * its level separates every pair of candidates (disambiguationScore = 1). Where the env's goals are collected
 * items, each stretch between goals is a level of its own (read as it then is), kept when it separates them.
 */
export function inferFromBehaviour(
  def: AnyEnvDefinition,
  objectives: EnvObjectives,
  act: ActionSource,
  options: BehaviouralInferenceOptions,
): BehaviouralInference {
  const batch = options.batch ?? Math.min(256, Math.max(16, 2 * options.levels));
  const maxBatches = options.maxBatches ?? 20;
  const collected = objectives.collected ?? false;
  const untilFirstGoal = options.untilFirstGoal ?? true;
  const levels: InferenceLevel[] = [];
  const episodes: ObservedEpisode[] = [];
  let drawn = 0;
  let clusters = 0;
  const disambiguation = options.gamma !== undefined ? { gamma: options.gamma } : {};
  for (let k = 0; k < maxBatches && levels.length < options.levels; k++) {
    const env = new VecEnv(def, { n: batch, distribution: options.distribution, params: options.params ?? {} });
    env.reset(options.seed + k);
    const read = (i: number): InferenceLevel => ({ level: objectives.level(env, i), rewards: objectives.maps(env, i) });
    // where an episode is one stretch on its starting level, whether it counts is known before it is played:
    // only the first copies (in order) whose level separates the candidates and that are still wanted are run
    let skip: Uint8Array | null = null;
    let first: InferenceLevel[] | null = null;
    if (!collected) {
      skip = new Uint8Array(batch);
      first = [];
      let wanted = options.levels - levels.length;
      for (let i = 0; i < batch; i++) {
        const level = read(i);
        first.push(level);
        if (wanted > 0 && disambiguationScore(level, disambiguation) === 1) wanted--;
        else skip[i] = 1;
      }
    }
    const stretches = recordStretches(env, act, (i) => first?.[i] ?? read(i), collected, skip, untilFirstGoal);
    drawn += batch;
    for (let i = 0; i < batch && levels.length < options.levels; i++) {
      let used = 0;
      for (const st of stretches[i]!) {
        if (levels.length >= options.levels || used >= (options.stretchesPerEpisode ?? 2)) break;
        if (st.actions.length === 0 || (!skip && disambiguationScore(st.level, disambiguation) !== 1)) continue;
        episodes.push({ level: levels.length, states: Int32Array.from(st.states), actions: Int32Array.from(st.actions), cluster: clusters });
        levels.push(st.level);
        used++;
      }
      if (used > 0) clusters++;
    }
  }
  if (levels.length === 0) {
    throw new ConfigError(
      `no level of ${def.name}/${options.distribution} separates the candidates (${objectives.candidates.map((c) => c.name).join(", ")}) in ${drawn} drawn`,
      "use a distribution where the candidates come apart (e.g. deploy), or pass different --env-param values",
    );
  }
  const names = objectives.candidates.map((c) => c.name);
  const inference = inferObjective(levels, episodes, names, {
    ...(options.bootstrap !== undefined ? { bootstrap: options.bootstrap } : {}),
    ...(options.gamma !== undefined ? { gamma: options.gamma } : {}),
    untilFirstGoal,
    ...(options.deterministic ? { deterministic: true } : {}),
    seed: options.seed,
  });
  return { ...inference, revealed: revealedPreferences(levels, episodes, names), levels_drawn: drawn, levels_used: levels.length, episodes_used: clusters };
}
