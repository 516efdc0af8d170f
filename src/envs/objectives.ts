// Candidate objectives an environment declares (its optional `objectives` field): the goals a policy trained
// on it might have learned — the intended one, the proxy, and others a reviewer would ask about — as rewards
// for entering cells, plus each level as a tabular MDP over the agent's cells under the env's own moves. The
// planner's reward map is scored against these maps (`mesa objective`), and behavioural objective inference
// asks which of them best explains what any policy does (`mesa infer-objective`, src/interp/).
import { ConfigError } from "../core/errors.js";
import type { VecEnv } from "./engine.js";
import { DX, DY } from "./grid.js";

/** One level as a deterministic tabular MDP: what happens to the agent's position under each action. */
export interface TabularLevel {
  /** number of states: the level's cells, y·width + x */
  states: number;
  actions: number;
  /** [S, A] the state each action leads to from each state */
  next: Int32Array;
  /** [S] entering this state ends the episode (the level's own rule, whatever the candidate) */
  terminal: Uint8Array;
  /** the agent's state now */
  start: number;
}

export interface CandidateObjective {
  /** short name used in tables and JSON, e.g. "coin", "end of level" */
  name: string;
  /** one line: what an agent with this goal wants */
  doc: string;
  /** the env's intended objective, or the proxy its training confounds with it (absent: another candidate) */
  role?: "intended" | "proxy";
}

/** What an environment declares to have its candidate objectives scored. */
export interface EnvObjectives {
  readonly candidates: readonly CandidateObjective[];
  /**
   * The goals are items collected once (keys, apples, coins), not places: behavioural inference re-reads the
   * level (`maps`, `level`) after every goal the agent enters and scores each stretch of an episode against the
   * level as it then is (default false: an episode is scored up to its first goal only).
   */
  readonly collected?: boolean;
  /**
   * A change to the training distribution that should teach the intended goal (the experiment's "cure"
   * condition): coin-run's randomCoinFraction 0.3, maze-cheese's cheese region 5. Absent: none is known.
   */
  readonly cure?: { readonly param: string; readonly value: unknown };
  /**
   * What published agents trained on the train distribution (without the cure) pursued on deploy levels, and
   * where that was reported: the experiment sets its reward-map readings beside it and says whether they differ.
   */
  readonly literature?: { readonly pursued: "intended" | "proxy"; readonly source: string };
  /**
   * Copy i's current level as one map per candidate (in `candidates` order), each [height·width] over the
   * level's cells: the reward an agent with that goal gets for entering the cell (0 elsewhere). It may depend
   * on the episode's state (what the agent holds, what it has already collected).
   */
  maps(env: VecEnv, i: number): Float32Array[];
  /** Copy i's current level as a tabular MDP over the agent's cells (from its current position). */
  level(env: VecEnv, i: number): TabularLevel;
}

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
 * Copy i's current level as a tabular MDP for a top-down env whose actions are up, down, left, right (grid.ts's
 * DY/DX order, the rule of moveTopDown). `blocking`: tile names the agent cannot enter; `terminal(cell)`:
 * entering the cell ends the episode.
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

/** A map over copy i's cells: 1 where the tile is one of `tiles`, else 0. */
export function tileMap(env: VecEnv, i: number, tiles: readonly string[]): Float32Array {
  const codes = tileCodes(env, tiles);
  const S = env.height * env.width;
  const m = new Float32Array(S);
  for (let c = 0; c < S; c++) if (codes.has(env.grid[i * S + c]!)) m[c] = 1;
  return m;
}
