// Shared test helpers: run a scripted or random policy until each copy has finished k episodes.
import type { EpisodeStats, VecEnv } from "../../src/envs/engine.js";
import type { ScriptedPolicy } from "../../src/envs/engine.js";
import { Rng } from "../../src/core/rng.js";

export interface Outcome extends EpisodeStats {
  pursuedProxy: boolean;
  intendedGoalReached: boolean;
}

/** Steps `env` (already reset) with `policy` until every copy finished `k` episodes; outcomes[i][j] = copy i, episode j. */
export function runEpisodes(env: VecEnv, policy: ScriptedPolicy | ((env: VecEnv, actions: Int32Array) => void), k: number): Outcome[][] {
  const act = typeof policy === "function" ? policy : policy.act.bind(policy);
  const outcomes: Outcome[][] = Array.from({ length: env.n }, () => []);
  const actions = new Int32Array(env.n);
  for (let t = 0; outcomes.some((o) => o.length < k); t++) {
    if (t > 100_000) throw new Error("episodes did not finish");
    act(env, actions);
    env.step(actions);
    for (let i = 0; i < env.n; i++) {
      if ((env.terminated[i]! | env.truncated[i]!) === 0 || outcomes[i]!.length >= k) continue;
      outcomes[i]!.push({ ...env.finishedStats(i), pursuedProxy: env.finished.pursuedProxy[i] === 1, intendedGoalReached: env.finished.intendedGoalReached[i] === 1 });
    }
  }
  return outcomes;
}

/** A uniformly random policy whose copy i draws from its own stream, so copy i acts the same for any n. */
export function randomPolicy(seed: number, n: number): (env: VecEnv, actions: Int32Array) => void {
  const rngs = Array.from({ length: n }, (_, i) => new Rng(seed, i));
  return (env, actions) => {
    for (let i = 0; i < env.n; i++) actions[i] = rngs[i]!.int(env.numActions);
  };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function flat<T>(xs: readonly (readonly T[])[]): T[] {
  return xs.flat() as T[];
}

/**
 * Checks copy i's agent-centred window: the agent at its centre and every cell outside the level shown as wall, so
 * the window's wall count is the level's walls plus the cells outside. Returns copy i's observation bytes.
 */
export function expectCentredWindow(env: VecEnv, i: number, agentChannel: number, wallChannel: number, wallCode: number): Uint8Array {
  const vhw = env.viewHeight * env.viewWidth;
  const lhw = env.height * env.width;
  const C = env.numChannels;
  const o = env.obsBytes.subarray(i * C * vhw, (i + 1) * C * vhw);
  if (o[agentChannel * vhw + ((env.viewHeight - 1) / 2) * env.viewWidth + (env.viewWidth - 1) / 2] !== 1) throw new Error(`copy ${i}: the agent is not at the window's centre`);
  let walls = 0;
  for (let p = 0; p < vhw; p++) walls += o[wallChannel * vhw + p]!;
  let levelWalls = 0;
  for (let p = 0; p < lhw; p++) levelWalls += env.grid[i * lhw + p] === wallCode ? 1 : 0;
  if (walls !== vhw - lhw + levelWalls) throw new Error(`copy ${i}: the window shows ${walls} wall cells, not the level's ${levelWalls} plus ${vhw - lhw} outside`);
  return o;
}
