// Tabular levels for objective inference, read from a running environment copy through the engine's public
// API: the states are the agent's cells, and `topDownLevel` builds the transitions of top-down grid worlds (an
// action moves one cell up/down/left/right unless a blocking tile or the edge is in the way — the rule of
// grid.ts's moveTopDown). `recordEpisodes` runs any policy on the copies and keeps the (state, action) pairs
// that inference scores.
import { ConfigError } from "../core/errors.js";
import type { VecEnv } from "../envs/engine.js";
import { DX, DY } from "../envs/grid.js";
import type { ObservedEpisode, TabularLevel } from "./objective-inference.js";

/** Tile codes (engine numbering: tiles[k] has code k + 1) of the named tiles; unknown names list the valid ones. */
export function tileCodes(env: VecEnv, names: readonly string[]): Set<number> {
  const codes = new Set<number>();
  for (const name of names) {
    const k = env.def.tiles.findIndex((t) => t.name === name);
    if (k < 0) throw new ConfigError(`${env.def.name} has no tile "${name}"`, `tiles: ${env.def.tiles.map((t) => t.name).join(", ")}`);
    codes.add(k + 1);
  }
  return codes;
}

/**
 * Copy i's current level as a tabular MDP for a top-down env whose actions are up, down, left, right (DY/DX
 * order). `blocking`: tile names the agent cannot enter; `terminal(cell)`: entering the cell ends the episode.
 */
export function topDownLevel(env: VecEnv, i: number, blocking: readonly string[], terminal: (cell: number) => boolean): TabularLevel {
  const { height: H, width: W } = env;
  const S = H * W;
  const A = 4;
  if (env.numActions !== A) throw new ConfigError(`${env.def.name} has ${env.numActions} actions; topDownLevel is for up/down/left/right worlds`, "build the level from the env's own move rule instead");
  const blocked = tileCodes(env, blocking);
  const next = new Int32Array(S * A);
  const term = new Uint8Array(S);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = y * W + x;
      term[s] = terminal(s) ? 1 : 0;
      for (let a = 0; a < A; a++) {
        const ny = y + DY[a]!;
        const nx = x + DX[a]!;
        const open = ny >= 0 && ny < H && nx >= 0 && nx < W && !blocked.has(env.tile(i, ny, nx));
        next[s * A + a] = open ? ny * W + nx : s;
      }
    }
  }
  return { states: S, actions: A, next, terminal: term, start: env.agentY[i]! * W + env.agentX[i]! };
}

/**
 * Steps every copy of `env` with `act` (which writes one action per copy) from its current state until each
 * copy's episode ends (or `maxSteps`), and returns copy i's states (agent cells) and actions as episode i.
 * Copies that finish keep stepping (auto-reset) but are no longer recorded.
 */
export function recordEpisodes(env: VecEnv, act: (env: VecEnv, actions: Int32Array) => void, maxSteps = env.maxSteps): ObservedEpisode[] {
  const n = env.n;
  const states: number[][] = Array.from({ length: n }, () => []);
  const actions: number[][] = Array.from({ length: n }, () => []);
  const done = new Uint8Array(n);
  const a = new Int32Array(n);
  let open = n;
  for (let t = 0; t < maxSteps && open > 0; t++) {
    act(env, a);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      states[i]!.push(env.agentY[i]! * env.width + env.agentX[i]!);
      actions[i]!.push(a[i]!);
    }
    env.step(a);
    for (let i = 0; i < n; i++) {
      if (!done[i] && (env.terminated[i]! | env.truncated[i]!) !== 0) {
        done[i] = 1;
        open--;
      }
    }
  }
  return states.map((s, i) => ({ level: i, states: Int32Array.from(s), actions: Int32Array.from(actions[i]!) }));
}
