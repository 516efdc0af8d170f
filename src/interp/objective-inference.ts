// Behavioural objective inference for any policy: which of an environment's candidate objectives best explains
// what the policy does? Each level is a deterministic tabular MDP (states = agent positions, the env's own
// transitions); each candidate objective is a reward for entering states. The policy is modelled as
// Boltzmann-rational under each candidate — π(a | s) ∝ exp(β·Q_c(s, a)), Q_c from value iteration on the level's
// exact dynamics — with the inverse temperature β integrated over a log-uniform grid (and its best value
// reported), giving a posterior over candidates; a bootstrap over episodes gives its confidence intervals.
// Revealed-preference statistics (which candidate's goal the agent reaches first) sit beside it, and
// `disambiguationScore` finds levels where the candidates imply different actions, the only levels on
// which behaviour can tell them apart.
// The question asked is "which goal is the agent heading for?": each candidate's planner values reaching its
// first goal (`goalsEnd`), and an episode's actions are scored only up to the first step that enters a goal of
// any candidate (`untilFirstGoal`). After that step the level's question is answered — and an agent that
// reached a place goal it cannot collect (coin-run's right end) may wander there for hundreds of steps that no
// candidate explains, which would drown the evidence of the path (measured on a coin-run planner: no candidate
// fitted before the cut). The cut is the same for every candidate, so their likelihoods score the same actions
// and stay comparable; cutting each candidate at its own goal would not. Where a level's goals are items
// collected once (keys, apples, coins), the caller re-reads the level after each goal the agent enters, so
// later stretches of one episode are scored against the level as it then is (`cluster` ties them to their
// episode for the bootstrap). This file is environment-independent: environments supply the levels,
// candidates and recorded episodes.
import { ConfigError, ShapeError } from "../core/errors.js";
import type { TabularLevel } from "../envs/objectives.js";
import { Rng } from "../core/rng.js";
import { type Estimate, wilsonInterval } from "../rl/stats.js";

export type { TabularLevel };

/** A level with one reward vector per candidate objective (reward for entering each state), in candidate order. */
export interface InferenceLevel {
  level: TabularLevel;
  /** candidate index → [S] reward for entering each state */
  rewards: readonly Float32Array[];
}

/** What a policy did on one level: the states it was in and the action it took in each. */
export interface ObservedEpisode {
  /** index into the levels */
  level: number;
  states: Int32Array;
  actions: Int32Array;
  /** the episode this is a stretch of (stretches of one episode are resampled together by the bootstrap); default: its own */
  cluster?: number;
}

export interface InferenceOptions {
  /** discount of the candidates' planners (default 0.95) */
  gamma?: number;
  /** inverse temperatures integrated over (default 61 values, log-uniform from 0.01 to 1000) */
  betaGrid?: readonly number[];
  /** bootstrap resamples of episodes for the confidence intervals (default 400) */
  bootstrap?: number;
  /** seed of the bootstrap (default 0) */
  seed?: number;
  /** entering a state a candidate rewards ends that candidate's plan: it heads for its first goal (default true) */
  goalsEnd?: boolean;
  /**
   * score each episode's actions only up to (and including) the first that enters a state any candidate
   * rewards (default true; see the file comment)
   */
  untilFirstGoal?: boolean;
  /**
   * the policy is deterministic (greedy actions): each (state, action) pair counts once per episode. Such a
   * policy back in a state does what it did there before, so a repeat is the same observation again, not new
   * evidence — a greedy agent caught in a loop would otherwise repeat a few pairs until the episode's time runs
   * out, and those pairs would outweigh the path that led there (default false: sampled actions, where each
   * visit is a fresh draw)
   */
  deterministic?: boolean;
}

export interface CandidatePosterior {
  name: string;
  /** posterior probability (uniform prior over candidates) */
  probability: number;
  /** 95% bootstrap interval of the probability, over resampled episodes */
  ci95: [number, number];
  /** fraction of bootstrap resamples in which this candidate had the highest posterior */
  topFrequency: number;
  /** the maximum-likelihood inverse temperature (on the grid) */
  beta: number;
  /** log-likelihood of the observed actions at that β */
  logLikelihood: number;
  /** mean per-action log-likelihood gain over a uniformly random policy at that β (0 = explains nothing) */
  gainPerAction: number;
}

export interface ObjectiveInference {
  candidates: CandidatePosterior[];
  /** name of the most probable candidate */
  top: string;
  episodes: number;
  /** actions scored */
  actions: number;
  /** actions recorded after an episode's first goal, not scored (`untilFirstGoal`) */
  actionsAfterGoal: number;
  /** log-likelihood of the actions under a uniformly random policy */
  uniformLogLikelihood: number;
}

const DEFAULT_BETAS = Array.from({ length: 61 }, (_, j) => 10 ** (-2 + (5 * j) / 60));

/**
 * Q(s, a) = R(s') + γ·(1 − terminal(s'))·V(s') with s' = next(s, a), V by value iteration to convergence ([S, A]).
 * With `goalsEnd` (the default), a state with positive reward is terminal too: the candidate reaches its first
 * goal and stops (an item's reward is paid once; a place is reached, not farmed by re-entering it).
 */
export function candidateQ(level: TabularLevel, reward: Float32Array, gamma: number, goalsEnd = true): Float32Array {
  const { states: S, actions: A, next, terminal } = level;
  if (reward.length !== S) throw new ShapeError(`candidateQ: reward has ${reward.length} values for ${S} states`);
  // the disambiguation and the likelihood ask for the same level's Q: computed once per reward vector
  const cached = qCache.get(reward);
  if (cached && cached.level === level && cached.gamma === gamma && cached.goalsEnd === goalsEnd) return cached.Q;
  const cont = new Float32Array(S);
  for (let s = 0; s < S; s++) cont[s] = terminal[s] || (goalsEnd && reward[s]! > 0) ? 0 : gamma;
  // S backups reach every state a shortest path can (a deterministic level has paths of at most S − 1 steps)
  const V = maxValueIteration(next, S, A, reward, cont, Math.max(1, S));
  const Q = new Float32Array(S * A);
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const t = next[s * A + a]!;
      Q[s * A + a] = reward[t]! + cont[t]! * V[t]!;
    }
  }
  qCache.set(reward, { level, gamma, goalsEnd, Q });
  return Q;
}

const qCache = new WeakMap<Float32Array, { level: TabularLevel; gamma: number; goalsEnd: boolean; Q: Float32Array }>();

/**
 * V_K of hard-max value iteration on one deterministic MDP (rewards for entering, as valueIteration), stopping
 * early once a backup changes nothing — every later one would repeat it. Levels converge in about as many
 * backups as their longest shortest path, far fewer than the S the bound allows.
 */
function maxValueIteration(next: Int32Array, S: number, A: number, reward: Float32Array, cont: Float32Array, K: number): Float32Array {
  let V = new Float32Array(S);
  let prev = new Float32Array(S);
  const e = Float32Array.from(reward); // E_0 = R (V_0 = 0)
  for (let k = 1; k <= K; k++) {
    [V, prev] = [prev, V];
    let changed = false;
    for (let s = 0, row = 0; s < S; s++, row += A) {
      let v = -Infinity;
      for (let a = 0; a < A; a++) {
        const q = e[next[row + a]!]!;
        if (q > v) v = q;
      }
      V[s] = v;
      if (V[s] !== prev[s]) changed = true;
    }
    if (!changed) break;
    for (let s = 0; s < S; s++) e[s] = reward[s]! + cont[s]! * V[s]!;
  }
  return V;
}

function checkProblem(levels: readonly InferenceLevel[], episodes: readonly ObservedEpisode[], candidateNames: readonly string[]): void {
  if (candidateNames.length < 2) throw new ConfigError(`objective inference needs at least two candidate objectives, got ${candidateNames.length}`, "declare the candidates the environment's behaviour could be explained by");
  if (episodes.length === 0) throw new ConfigError("objective inference got no episodes", "run the policy on at least one level");
  levels.forEach((l, i) => {
    const { states: S, actions: A, next, terminal } = l.level;
    if (next.length !== S * A || terminal.length !== S) throw new ShapeError(`level ${i}: next must be [${S}, ${A}] and terminal [${S}]`);
    if (l.rewards.length !== candidateNames.length) throw new ShapeError(`level ${i} has ${l.rewards.length} reward vectors for ${candidateNames.length} candidates`);
  });
  episodes.forEach((e, k) => {
    const l = levels[e.level];
    if (!l) throw new ShapeError(`episode ${k} refers to level ${e.level}, but there are ${levels.length}`);
    if (e.states.length !== e.actions.length) throw new ShapeError(`episode ${k}: ${e.states.length} states but ${e.actions.length} actions`);
    for (let t = 0; t < e.states.length; t++) {
      if (!(e.states[t]! >= 0 && e.states[t]! < l.level.states) || !(e.actions[t]! >= 0 && e.actions[t]! < l.level.actions)) {
        throw new ShapeError(`episode ${k}, step ${t}: state ${e.states[t]} or action ${e.actions[t]} is out of range`);
      }
    }
  });
}

/** log Σ exp(x) of an array, stably */
function logSumExp(xs: ArrayLike<number>, n = xs.length): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (xs[i]! > m) m = xs[i]!;
  if (m === -Infinity) return -Infinity;
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.exp(xs[i]! - m);
  return m + Math.log(z);
}

/**
 * Posterior over candidate objectives from observed behaviour (see the file comment). `candidateNames[c]`
 * names levels[*].rewards[c].
 */
export function inferObjective(levels: readonly InferenceLevel[], episodes: readonly ObservedEpisode[], candidateNames: readonly string[], options: InferenceOptions = {}): ObjectiveInference {
  checkProblem(levels, episodes, candidateNames);
  const gamma = options.gamma ?? 0.95;
  const betas = options.betaGrid ?? DEFAULT_BETAS;
  const C = candidateNames.length;
  const G = betas.length;
  const E = episodes.length;
  // Q of every candidate on every level that an episode uses
  const used = [...new Set(episodes.map((e) => e.level))];
  const Qs = new Map<number, Float32Array[]>();
  for (const i of used) Qs.set(i, levels[i]!.rewards.map((r) => candidateQ(levels[i]!.level, r, gamma, options.goalsEnd ?? true)));
  const untilFirstGoal = options.untilFirstGoal ?? true;
  // per episode, candidate and β: log-likelihood of its actions
  const ll = new Float64Array(E * C * G);
  let totalActions = 0;
  let afterGoal = 0;
  let uniform = 0;
  const logits = new Float64Array(64);
  episodes.forEach((e, k) => {
    const { actions: A } = levels[e.level]!.level;
    const Q = Qs.get(e.level)!;
    const goalAt = untilFirstGoal ? firstGoalStep(levels[e.level]!, e) : -1;
    const n = goalAt >= 0 ? goalAt + 1 : e.actions.length;
    afterGoal += e.actions.length - n;
    // an episode's likelihood depends only on how often each action was taken in each state: an agent that
    // paces or pushes into a wall repeats a few pairs hundreds of times, so each state's normaliser is computed once
    const visits = new Map<number, Float64Array>(); // state → count of each action there
    let scored = 0;
    for (let t = 0; t < n; t++) {
      let counts = visits.get(e.states[t]!);
      if (!counts) visits.set(e.states[t]!, (counts = new Float64Array(A)));
      if (options.deterministic && counts[e.actions[t]!]! > 0) continue; // the same observation again
      counts[e.actions[t]!]!++;
      scored++;
    }
    totalActions += scored;
    uniform -= scored * Math.log(A);
    for (let c = 0; c < C; c++) {
      const q = Q[c]!;
      for (let g = 0; g < G; g++) {
        const beta = betas[g]!;
        let sum = 0;
        for (const [state, counts] of visits) {
          const row = state * A;
          let n = 0;
          let chosen = 0;
          for (let a = 0; a < A; a++) {
            logits[a] = beta * q[row + a]!;
            n += counts[a]!;
            chosen += counts[a]! * logits[a]!;
          }
          sum += chosen - n * logSumExp(logits, A);
        }
        ll[(k * C + c) * G + g] = sum;
      }
    }
  });
  // posterior of a multiset of episodes (weights = how often each is drawn)
  const totals = new Float64Array(C * G);
  const marginal = new Float64Array(C);
  const posteriorOf = (weights: Float64Array | null): Float64Array => {
    totals.fill(0);
    for (let k = 0; k < E; k++) {
      const w = weights ? weights[k]! : 1;
      if (w === 0) continue;
      for (let i = 0; i < C * G; i++) totals[i]! += w * ll[k * C * G + i]!;
    }
    for (let c = 0; c < C; c++) marginal[c] = logSumExp(totals.subarray(c * G, (c + 1) * G)) - Math.log(G);
    const z = logSumExp(marginal);
    return Float64Array.from(marginal, (m) => Math.exp(m - z));
  };
  const point = posteriorOf(null);
  const best = Array.from({ length: C }, (_, c) => {
    let g0 = 0;
    for (let g = 1; g < G; g++) if (totals[c * G + g]! > totals[c * G + g0]!) g0 = g;
    return { beta: betas[g0]!, logLikelihood: totals[c * G + g0]! };
  });
  // bootstrap over episodes (stretches of one episode, same cluster, are drawn together)
  const R = options.bootstrap ?? 400;
  const rng = new Rng(options.seed ?? 0, "objective-inference/bootstrap");
  const samples = Array.from({ length: C }, () => new Float64Array(R));
  const topCounts = new Float64Array(C);
  const weights = new Float64Array(E);
  const clusterIds = [...new Set(episodes.map((e, k) => e.cluster ?? -1 - k))];
  const clusterIndex = new Map(clusterIds.map((id, j) => [id, j]));
  const members: number[][] = clusterIds.map(() => []);
  episodes.forEach((e, k) => members[clusterIndex.get(e.cluster ?? -1 - k)!]!.push(k));
  for (let r = 0; r < R; r++) {
    weights.fill(0);
    for (let j = 0; j < members.length; j++) for (const k of members[rng.int(members.length)]!) weights[k]!++;
    const p = posteriorOf(weights);
    let top = 0;
    for (let c = 0; c < C; c++) {
      samples[c]![r] = p[c]!;
      if (p[c]! > p[top]!) top = c;
    }
    topCounts[top]!++;
  }
  const quantile = (xs: Float64Array, q: number): number => {
    const s = Float64Array.from(xs).sort();
    return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
  };
  const candidates: CandidatePosterior[] = candidateNames.map((name, c) => ({
    name,
    probability: point[c]!,
    ci95: R > 0 ? [quantile(samples[c]!, 0.025), quantile(samples[c]!, 0.975)] : [point[c]!, point[c]!],
    topFrequency: R > 0 ? topCounts[c]! / R : Number.NaN,
    beta: best[c]!.beta,
    logLikelihood: best[c]!.logLikelihood,
    gainPerAction: totalActions > 0 ? (best[c]!.logLikelihood - uniform) / totalActions : 0,
  }));
  let top = 0;
  for (let c = 1; c < C; c++) if (point[c]! > point[top]!) top = c;
  return { candidates, top: candidateNames[top]!, episodes: E, actions: totalActions, actionsAfterGoal: afterGoal, uniformLogLikelihood: uniform };
}

/**
 * The step at which an episode first enters a state some candidate rewards (its action's successor, since the
 * last state may be terminal and not recorded), or -1 when it never does.
 */
export function firstGoalStep({ level, rewards }: InferenceLevel, e: ObservedEpisode): number {
  for (let t = 0; t < e.states.length; t++) {
    const s = level.next[e.states[t]! * level.actions + e.actions[t]!]!;
    for (const r of rewards) if (r[s]! > 0) return t;
  }
  return -1;
}

export interface RevealedPreference {
  /** per candidate: episodes whose first rewarded state (for any candidate) was one this candidate rewards */
  firstReached: Record<string, Estimate>;
  /** episodes that entered no candidate's rewarded state */
  none: Estimate;
}

/**
 * Which candidate's goal does the agent reach first? A state is a candidate's goal when its reward there is
 * positive; an episode counts for every candidate rewarding the first goal state it enters (for ambiguous
 * states, several), so on disambiguating levels the rates separate the candidates.
 */
export function revealedPreferences(levels: readonly InferenceLevel[], episodes: readonly ObservedEpisode[], candidateNames: readonly string[]): RevealedPreference {
  checkProblem(levels, episodes, candidateNames);
  const C = candidateNames.length;
  const counts = new Int32Array(C);
  let none = 0;
  for (const e of episodes) {
    const { rewards, level } = levels[e.level]!;
    const t = firstGoalStep(levels[e.level]!, e);
    if (t < 0) {
      none++;
      continue;
    }
    const s = level.next[e.states[t]! * level.actions + e.actions[t]!]!;
    for (let c = 0; c < C; c++) if (rewards[c]![s]! > 0) counts[c]!++;
  }
  const firstReached: Record<string, Estimate> = {};
  candidateNames.forEach((name, c) => (firstReached[name] = wilsonInterval(counts[c]!, episodes.length)));
  return { firstReached, none: wilsonInterval(none, episodes.length) };
}

/**
 * The path an optimal agent for `Q` takes from the level's start (first best action at ties), to a terminal
 * state or `maxSteps` — or, given `goals`, to the first state with a positive value there.
 */
export function greedyPath(level: TabularLevel, Q: Float32Array, maxSteps = level.states, goals: Float32Array | null = null): { states: Int32Array; actions: Int32Array } {
  const { actions: A, next, terminal } = level;
  const states: number[] = [];
  const actions: number[] = [];
  let s = level.start;
  const seen = new Set<number>();
  for (let t = 0; t < maxSteps && !seen.has(s); t++) {
    seen.add(s);
    let best = 0;
    for (let a = 1; a < A; a++) if (Q[s * A + a]! > Q[s * A + best]!) best = a;
    states.push(s);
    actions.push(best);
    s = next[s * A + best]!;
    if (terminal[s] || (goals !== null && goals[s]! > 0)) break;
  }
  return { states: Int32Array.from(states), actions: Int32Array.from(actions) };
}

export interface DisambiguationOptions {
  /** discount of the candidates' planners (default 0.95) */
  gamma?: number;
  /** an action counts as worse under a candidate when it loses this fraction of the candidate's Q range (default 0.05) */
  margin?: number;
  /** as InferenceOptions.goalsEnd (default true) */
  goalsEnd?: boolean;
  /**
   * also require that neither candidate's optimal path enters a state the other rewards (default true): then
   * "which goal did the agent reach first" separates them too, not only the likelihood of its actions
   */
  exclusiveGoals?: boolean;
}

/**
 * How well a level separates the candidates: the fraction of candidate pairs (c, d) for which c's optimal
 * path takes, somewhere, an action that is worse than the best under d by at least `margin` of d's Q range,
 * or the other way round (and, with `exclusiveGoals`, neither path passes through the other's goal); both
 * candidates' optimal paths must reach their goals.
 * 1 = every pair of candidates implies visibly different behaviour on this level.
 */
export function disambiguationScore(level: InferenceLevel, options: DisambiguationOptions = {}): number {
  const gamma = options.gamma ?? 0.95;
  const margin = options.margin ?? 0.05;
  const exclusive = options.exclusiveGoals ?? true;
  const { level: L, rewards } = level;
  const A = L.actions;
  const goalsEnd = options.goalsEnd ?? true;
  const Qs = rewards.map((r) => candidateQ(L, r, gamma, goalsEnd));
  const paths = Qs.map((Q, c) => greedyPath(L, Q, L.states, goalsEnd ? rewards[c]! : null));
  const ranges = Qs.map((Q) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const q of Q) {
      if (q < lo) lo = q;
      if (q > hi) hi = q;
    }
    return hi - lo;
  });
  const deviates = (c: number, d: number): boolean => {
    const { states, actions } = paths[c]!;
    const Q = Qs[d]!;
    const tol = margin * ranges[d]!;
    if (!(tol > 0)) return false;
    for (let t = 0; t < states.length; t++) {
      const row = states[t]! * A;
      let best = -Infinity;
      for (let a = 0; a < A; a++) if (Q[row + a]! > best) best = Q[row + a]!;
      if (best - Q[row + actions[t]!]! >= tol) return true;
    }
    return false;
  };
  // does c's optimal path enter a state d rewards and c does not?
  const touches = (c: number, d: number): boolean => {
    const { states, actions } = paths[c]!;
    for (let t = 0; t < states.length; t++) {
      const s = L.next[states[t]! * A + actions[t]!]!;
      if (rewards[d]![s]! > 0 && !(rewards[c]![s]! > 0)) return true;
    }
    return false;
  };
  // a candidate whose optimal path never collects its reward (goal unreachable, e.g. behind a terminal cell)
  // implies no behaviour at all, so it separates from nothing
  const reaches = (c: number): boolean => {
    const { states, actions } = paths[c]!;
    for (let t = 0; t < states.length; t++) if (rewards[c]![L.next[states[t]! * A + actions[t]!]!]! > 0) return true;
    return false;
  };
  const reachable = rewards.map((_, c) => reaches(c));
  let pairs = 0;
  let separated = 0;
  for (let c = 0; c < rewards.length; c++) {
    for (let d = c + 1; d < rewards.length; d++) {
      pairs++;
      if (reachable[c] && reachable[d] && (deviates(c, d) || deviates(d, c)) && !(exclusive && (touches(c, d) || touches(d, c)))) separated++;
    }
  }
  return pairs === 0 ? 0 : separated / pairs;
}

/**
 * Draws levels with `sample(k)` (k = 0, 1, …) and keeps those whose disambiguation score reaches `minScore`,
 * until `count` are kept or `maxTries` were drawn. Returns the kept levels with the index k each came from.
 */
export function disambiguatingLevels<L extends InferenceLevel>(
  sample: (k: number) => L,
  count: number,
  options: DisambiguationOptions & { maxTries?: number; minScore?: number } = {},
): { levels: L[]; drawn: number[]; tried: number } {
  const maxTries = options.maxTries ?? count * 50;
  const minScore = options.minScore ?? 1;
  const levels: L[] = [];
  const drawn: number[] = [];
  let k = 0;
  for (; k < maxTries && levels.length < count; k++) {
    const level = sample(k);
    if (disambiguationScore(level, options) >= minScore) {
      levels.push(level);
      drawn.push(k);
    }
  }
  return { levels, drawn, tried: k };
}
