/**
 * What the AI Safety Gridworlds ports share: numpy's legacy random stream (so `--seed N` draws what
 * `np.random.seed(N)` draws in the original), the per-copy board as pycolab renders it, the reward and hidden
 * reward ledger kept in float64 as the original adds them, and the builder that turns a port into an engine
 * environment (tiles and colours from the original's palette, the 100-step limit, train/deploy presets).
 *
 * How a port mirrors pycolab: the board holds the characters pycolab would paint (back to front in the
 * original's z-order) before the environment's repainter; each port updates its things in the original's update
 * order and calls `refresh` on the cells whose layers changed — between update groups too, because pycolab
 * repaints after each group and later groups read that board (MazeWalker's impassable checks, `layers`).
 */
import { z } from "zod";
import type { Rng } from "../../core/rng.js";
import { ConfigError } from "../../core/errors.js";
import { defineEnv, type EnvDefinition, type EpisodeStats, type LevelSnapshot, type RGB, type TileSpec, type VecEnv } from "../engine.js";

// ---------------------------------------------------------------------------------------------------------
// numpy's legacy RandomState: MT19937 seeded by init_genrand, doubles by genrand_res53, integers by masked
// rejection (numpy keeps the masked method for RandomState so old seeds reproduce).

const MT_N = 624;
const MT_M = 397;

/** One MT19937 stream per copy, in one typed array, drawing exactly as numpy.random (legacy) does. */
export class NumpyStreams {
  /** [n, 624] state words */
  private readonly key: Uint32Array;
  /** [n] position of the next word; 624 = twist first */
  private readonly pos: Int32Array;

  constructor(n: number) {
    this.key = new Uint32Array(n * MT_N);
    this.pos = new Int32Array(n).fill(MT_N);
  }

  /** np.random.seed(seed) for copy i; seed is an integer in [0, 2^32). */
  seed(i: number, seed: number): void {
    const k = this.key;
    const o = i * MT_N;
    let s = seed >>> 0;
    for (let p = 0; p < MT_N; p++) {
      k[o + p] = s;
      s = (Math.imul(1812433253, (s ^ (s >>> 30)) >>> 0) + p + 1) >>> 0;
    }
    this.pos[i] = MT_N;
  }

  /** the next 32-bit word of copy i's stream */
  uint32(i: number): number {
    const k = this.key;
    const o = i * MT_N;
    if (this.pos[i]! >= MT_N) {
      let y: number;
      let p = 0;
      for (; p < MT_N - MT_M; p++) {
        y = (k[o + p]! & 0x80000000) | (k[o + p + 1]! & 0x7fffffff);
        k[o + p] = k[o + p + MT_M]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      for (; p < MT_N - 1; p++) {
        y = (k[o + p]! & 0x80000000) | (k[o + p + 1]! & 0x7fffffff);
        k[o + p] = k[o + p + MT_M - MT_N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      y = (k[o + MT_N - 1]! & 0x80000000) | (k[o]! & 0x7fffffff);
      k[o + MT_N - 1] = k[o + MT_M - 1]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      this.pos[i] = 0;
    }
    let y = k[o + this.pos[i]!++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** np.random.random() / np.random.rand(): a double in [0, 1) from two words (genrand_res53) */
  random(i: number): number {
    const a = this.uint32(i) >>> 5;
    const b = this.uint32(i) >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** np.random.randint(0, high) / np.random.choice(list of `high`): masked rejection on 32-bit words */
  randint(i: number, high: number): number {
    const range = high - 1;
    if (range === 0) return 0;
    let mask = range;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let value: number;
    do value = (this.uint32(i) & mask) >>> 0;
    while (value > range);
    return value;
  }
}

/**
 * Where a port's random draws come from. With the `numpySeed` parameter set, copy i draws from one numpy
 * stream seeded like the original (np.random.seed(numpySeed), then the environment's constructor, which builds
 * and drops one game, then the episodes in order), so traces match the original draw for draw. Without it,
 * episode k of copy i draws from the engine's Rng(seed, i, k), like every Mesa environment.
 */
export class Draws {
  readonly numpy: NumpyStreams;
  private readonly rngs: (Rng | null)[];
  /** [n] 1 while copy i draws from its numpy stream */
  private readonly numpyMode: Uint8Array;
  /** [n] the episode number the copy last started, -1 before the first (tells auto-resets from fresh starts) */
  private readonly lastEpisode: Float64Array;

  constructor(n: number) {
    this.numpy = new NumpyStreams(n);
    this.rngs = new Array<Rng | null>(n).fill(null);
    this.numpyMode = new Uint8Array(n);
    this.lastEpisode = new Float64Array(n).fill(-1);
  }

  /**
   * Called at the start of every resetEnv. Returns true when this is a fresh start (reset or a jump to another
   * episode) rather than an auto-reset into the next episode; state that the original keeps across episodes
   * (friend_foe's bandit memory) is cleared on fresh starts. In numpy mode a fresh start must be episode 0:
   * the original's stream cannot be entered in the middle.
   */
  begin(env: VecEnv, i: number, rng: Rng, numpySeed: number | null): boolean {
    const episode = env.episode[i]!;
    const fresh = episode !== this.lastEpisode[i]! + 1 || this.lastEpisode[i]! < 0;
    this.lastEpisode[i] = episode;
    this.rngs[i] = rng;
    if (numpySeed === null) {
      this.numpyMode[i] = 0;
      return fresh;
    }
    this.numpyMode[i] = 1;
    if (fresh) {
      if (episode !== 0) {
        throw new ConfigError(
          `${env.def.name}: with numpySeed the draws follow the original's single numpy stream, which starts at episode 0 (asked for episode ${episode})`,
          "reset at episode 0, or leave numpySeed unset to draw each episode from its own stream",
        );
      }
      this.numpy.seed(i, numpySeed);
    }
    return fresh;
  }

  /** true when copy i follows the original's numpy stream (and so must replay the constructor's dropped game) */
  isNumpy(i: number): boolean {
    return this.numpyMode[i] === 1;
  }

  /** a double in [0, 1): np.random.random() / rand() */
  uniform(i: number): number {
    return this.numpyMode[i] === 1 ? this.numpy.random(i) : this.rngs[i]!.float();
  }

  /** an integer in [0, high): np.random.choice over `high` items */
  integer(i: number, high: number): number {
    return this.numpyMode[i] === 1 ? this.numpy.randint(i, high) : this.rngs[i]!.int(high);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The board, the ledger and the bookkeeping every port shares.

/** Action numbers of the original (safety_game.Actions). */
export const UP = 0;
export const DOWN = 1;
export const LEFT = 2;
export const RIGHT = 3;
export const NOOP = 4;
export const MOVE_DY = [-1, 1, 0, 0, 0] as const;
export const MOVE_DX = [0, 0, -1, 1, 0] as const;

export const SPACE = 32;
export const AGENT = 65; // 'A'
export const WALL = 35; // '#'
export const code = (ch: string): number => ch.charCodeAt(0);

/** A level as in the original's GAME_ART: rows of equal width. */
export interface Art {
  readonly rows: readonly string[];
  readonly height: number;
  readonly width: number;
  /** [h*w] char codes of the art (the original's `original_board`, with the agent's 'A' still in it) */
  readonly chars: Uint8Array;
}

export function art(rows: readonly string[]): Art {
  const height = rows.length;
  const width = rows[0]!.length;
  const chars = new Uint8Array(height * width);
  rows.forEach((row, y) => {
    if (row.length !== width) throw new Error(`art row ${y} has ${row.length} chars, expected ${width}`);
    for (let x = 0; x < width; x++) chars[y * width + x] = row.charCodeAt(x);
  });
  return { rows, height, width, chars };
}

/** Cells of `a` holding char `ch`, row-major (as np.argwhere). */
export function cellsOf(a: Art, ch: string): number[] {
  const c = code(ch);
  const out: number[] = [];
  for (let p = 0; p < a.chars.length; p++) if (a.chars[p] === c) out.push(p);
  return out;
}

/** The first cell of `ch` in `a`, or -1. */
export function cellOf(a: Art, ch: string): number {
  return a.chars.indexOf(code(ch));
}

/**
 * Per-copy state every port has. `board` is what pycolab last painted (before repainting); the ledger keeps the
 * step's reward and the episode's hidden reward in float64, as the original's Plot adds them; `final*` hold the
 * finished episode's values after the engine's same-step auto-reset has drawn the next level.
 */
export interface AisgState {
  readonly n: number;
  readonly hw: number;
  readonly draws: Draws;
  /** [2, n, h*w] `board` then `finalBoard`, one buffer so that keeping a finished board is one native copy */
  readonly boards: Uint8Array;
  /** [n, h*w] painted characters */
  readonly board: Uint8Array;
  /** [n] reward of the latest step, as the original reports it */
  readonly stepReward: Float64Array;
  /** [n] the_plot's cumulative hidden reward of the current episode */
  readonly hidden: Float64Array;
  /** [n] 1 once anything added a hidden reward this episode (the original reports None before) */
  readonly hiddenSet: Uint8Array;
  /** [n] sum of the episode's rewards (the original's episode_return) */
  readonly episodeReturn: Float64Array;
  readonly finalBoard: Uint8Array;
  readonly finalHidden: Float64Array;
  readonly finalHiddenSet: Uint8Array;
  readonly finalReturn: Float64Array;
  /** [n] the agent's row and column as the original tracks them (the engine's agentY/agentX mirror them) */
  readonly agentRow: Int32Array;
  readonly agentCol: Int32Array;
  /** first boards by key (see paintAll) */
  readonly templates: Map<number, BoardTemplate>;
}

export function createAisgState(n: number, a: { height: number; width: number }): AisgState {
  const hw = a.height * a.width;
  const boards = new Uint8Array(2 * n * hw);
  return {
    n,
    hw,
    draws: new Draws(n),
    boards,
    board: boards.subarray(0, n * hw),
    stepReward: new Float64Array(n),
    hidden: new Float64Array(n),
    hiddenSet: new Uint8Array(n),
    episodeReturn: new Float64Array(n),
    finalBoard: boards.subarray(n * hw),
    finalHidden: new Float64Array(n),
    finalHiddenSet: new Uint8Array(n),
    finalReturn: new Float64Array(n),
    agentRow: new Int32Array(n),
    agentCol: new Int32Array(n),
    templates: new Map(),
  };
}

/** Keeps the finished episode's board and totals, then clears the copy's totals (paintAll paints its new board). */
export function startEpisode(s: AisgState, i: number): void {
  const from = i * s.hw;
  s.boards.copyWithin(s.n * s.hw + from, from, from + s.hw);
  s.finalHidden[i] = s.hidden[i]!;
  s.finalHiddenSet[i] = s.hiddenSet[i]!;
  s.finalReturn[i] = s.episodeReturn[i]!;
  s.hidden[i] = 0;
  s.hiddenSet[i] = 0;
  s.episodeReturn[i] = 0;
}

/** safety_game.add_hidden_reward */
export function addHidden(s: AisgState, i: number, r: number): void {
  s.hidden[i] = (s.hiddenSet[i] === 1 ? s.hidden[i]! : 0) + r;
  s.hiddenSet[i] = 1;
}

/**
 * Reports the step to the engine: `reward` as the base reward and, as `intended`, the change of the hidden
 * reward (or the reward itself for the games whose performance is the episode return).
 */
export function finishStep(env: VecEnv, s: AisgState, i: number, hiddenBefore: number, performanceIsReturn: boolean): void {
  const r = s.stepReward[i]!;
  s.episodeReturn[i]! += r;
  env.addReward(i, r, performanceIsReturn ? r : s.hidden[i]! - hiddenBefore);
}

/** MazeWalker's cardinal move check: the target cell's painted char must not be impassable. */
export function canEnter(board: Uint8Array, p: number, impassable: Uint8Array): boolean {
  return impassable[board[p]!] === 0;
}

/** A 128-entry lookup table of impassable chars. */
export function impassableSet(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (const ch of chars) t[code(ch)] = 1;
  return t;
}

/**
 * Paints one cell: `char` is what the port computes for the cell (its z-order, top first); when it differs
 * from the board, the board and the engine's grid (tile of the repainted char; floor and agent are empty, the
 * agent is the engine's agent channel) are updated.
 */
export function paint(env: VecEnv, s: AisgState, i: number, p: number, char: number, tileOfChar: Int16Array): void {
  const q = i * s.hw + p;
  if (s.board[q] === char) return;
  s.board[q] = char;
  const w = env.width;
  const y = (p / w) | 0;
  env.setTile(i, y, p - y * w, tileOfChar[char]!);
}

/** Moves the engine's agent marker to where the port's agent is. */
export function placeAgent(env: VecEnv, s: AisgState, i: number): void {
  env.placeAgent(i, s.agentRow[i]!, s.agentCol[i]!);
}

// ---------------------------------------------------------------------------------------------------------
// Colours, tiles and the definition builder.

/** The original's curses colours are 0–999 per channel. */
export function rgb999(c: readonly [number, number, number]): RGB {
  return [Math.round((c[0] * 255) / 999), Math.round((c[1] * 255) / 999), Math.round((c[2] * 255) / 999)];
}

/** safety_game.GAME_BG_COLOURS */
export const BASE_COLOURS: Record<string, readonly [number, number, number]> = {
  " ": [858, 858, 858],
  "#": [599, 599, 599],
  A: [0, 706, 999],
  G: [0, 823, 196],
};

/** One visible character of a port: its tile name and its colour in the original (0–999). */
export interface CharSpec {
  readonly char: string;
  readonly name: string;
  /** background colour (GAME_BG_COLOURS) */
  readonly colour: readonly [number, number, number];
  /** the original draws the char in its background colour (walls, water, lava, floors: solid cells) */
  readonly solid?: boolean;
}

/** What the trace, the parity tests and the renderers need beyond the engine's definition. */
export interface AisgInfo<P, S extends AisgState> {
  /** module name in ai_safety_gridworlds/environments */
  readonly original: string;
  /** how the original scores an episode: its hidden reward, or the episode return where it keeps none */
  readonly performance: "hidden" | "return";
  /** the original's repainter (e.g. rocks 1,2,3 → R) */
  readonly repaint: Readonly<Record<string, string>>;
  /** the original's levels, by option value, for messages and listings */
  readonly levels: string;
  /** outcomes this episode drew (or took from options), for traces: e.g. { supervisor: true } */
  drawn(s: S, i: number, p: P): Record<string, unknown>;
}

export type AisgDefinition<Sch extends z.ZodObject = z.ZodObject, S extends AisgState = AisgState> = EnvDefinition<Sch, S> & {
  readonly aisg: AisgInfo<z.output<Sch>, S>;
};

/** Common parameters: the step limit and the numpy seed of trace mode. */
export const commonParams = {
  maxSteps: z.number().int().min(1).max(100_000).default(100).describe("steps before the episode ends (the original's max_iterations, 100)"),
  numpySeed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullable()
    .default(null)
    .describe("draw like the original after np.random.seed(numpySeed) (one stream across episodes, from episode 0); null: each episode draws from the engine's seeded stream"),
};

export interface AisgSpec<Sch extends z.ZodObject, S extends AisgState> {
  name: string;
  summary: string;
  proxyGoal: string;
  intendedGoal: string;
  params: Sch;
  distributions: EnvDefinition<Sch, S>["distributions"];
  /** action names for these params (NOOP only where the original offers it) */
  actionsFor(p: z.output<Sch>): readonly string[];
  /** every char the (repainted) board can show except the floor and the agent */
  chars: readonly CharSpec[];
  events: readonly string[];
  /** see EnvDefinition.remembersEpisodes */
  remembersEpisodes?: string;
  shape(p: z.output<Sch>): { height: number; width: number };
  createState(n: number, p: z.output<Sch>): S;
  resetEnv: EnvDefinition<Sch, S>["resetEnv"];
  stepEnv: EnvDefinition<Sch, S>["stepEnv"];
  pursuedProxy(stats: EpisodeStats, p: z.output<Sch>): boolean;
  intendedGoalReached(stats: EpisodeStats, p: z.output<Sch>): boolean;
  aisg: AisgInfo<z.output<Sch>, S>;
}

export const AISG_ACTIONS = ["up", "down", "left", "right"] as const;
export const AISG_ACTIONS_NOOP = ["up", "down", "left", "right", "noop"] as const;

/** Builds the engine definition of a port: tiles and channels from its chars, the original's colours. */
export function defineAisg<Sch extends z.ZodObject, S extends AisgState>(spec: AisgSpec<Sch, S>): AisgDefinition<Sch, S> {
  const tiles: TileSpec[] = spec.chars.map((c) => ({ name: c.name, char: c.char, channel: c.name, color: rgb999(c.colour), shape: "block" }));
  const colours: Record<string, RGB> = { " ": rgb999(BASE_COLOURS[" "]!), A: rgb999(BASE_COLOURS.A!) };
  for (const c of spec.chars) colours[c.char] = rgb999(c.colour);
  // GAME_FG_COLOURS: black letters, except where the original paints a solid cell (fg = bg)
  const black: RGB = [0, 0, 0];
  const displayColours: Record<string, { bg: RGB; fg: RGB }> = { " ": { bg: colours[" "]!, fg: colours[" "]! }, A: { bg: colours.A!, fg: black } };
  for (const c of spec.chars) displayColours[c.char] = { bg: colours[c.char]!, fg: c.solid || c.char === "#" ? colours[c.char]! : black };
  const def = defineEnv<Sch, S>({
    name: spec.name,
    summary: spec.summary,
    proxyGoal: spec.proxyGoal,
    intendedGoal: spec.intendedGoal,
    params: spec.params,
    distributions: spec.distributions,
    actions: spec.actionsFor(spec.params.parse({}) as z.output<Sch>),
    actionsFor: spec.actionsFor,
    channels: ["agent", ...spec.chars.map((c) => c.name)],
    tiles,
    agent: { char: "A", channel: "agent", color: rgb999(BASE_COLOURS.A!) },
    events: spec.events,
    display: (env, i) => boardRows(env, env.state, i, spec.aisg.repaint),
    displayColours,
    ...(spec.remembersEpisodes === undefined ? {} : { remembersEpisodes: spec.remembersEpisodes }),
    shape: spec.shape,
    createState: spec.createState,
    resetEnv: spec.resetEnv,
    stepEnv: spec.stepEnv,
    pursuedProxy: spec.pursuedProxy,
    intendedGoalReached: spec.intendedGoalReached,
  });
  return Object.assign(def, { aisg: spec.aisg });
}

/** char code → engine tile code (0 for the floor and the agent) after the port's repainting. */
export function tileTable(chars: readonly CharSpec[], repaint: Readonly<Record<string, string>> = {}): Int16Array {
  const t = new Int16Array(256);
  chars.forEach((c, k) => (t[code(c.char)] = k + 1));
  for (const [from, to] of Object.entries(repaint)) t[code(from)] = t[code(to)]!;
  return t;
}

/** The repainted board of copy i as rows of text (`final` reads the episode that just finished). */
export function boardRows(env: VecEnv, s: AisgState, i: number, repaint: Readonly<Record<string, string>>, final = false): string[] {
  const board = final ? s.finalBoard : s.board;
  const map = new Map(Object.entries(repaint));
  const rows: string[] = [];
  for (let y = 0; y < env.height; y++) {
    let row = "";
    for (let x = 0; x < env.width; x++) {
      const ch = String.fromCharCode(board[i * s.hw + y * env.width + x]!);
      row += map.get(ch) ?? ch;
    }
    rows.push(row);
  }
  return rows;
}

/** Is `def` an AI Safety Gridworlds port? */
export function isAisg(def: { name: string }): def is AisgDefinition {
  return (def as Partial<AisgDefinition>).aisg !== undefined;
}

/**
 * AgentSafetySprite's motion: tries `action` (UP, DOWN, LEFT, RIGHT; NOOP stays) against the painted board,
 * as MazeWalker does. Every level of the suite is walled in, so the agent never walks off the board.
 */
export function moveAgent(s: AisgState, i: number, width: number, action: number, impassable: Uint8Array): void {
  if (action > RIGHT) return;
  const r = s.agentRow[i]! + MOVE_DY[action]!;
  const c = s.agentCol[i]! + MOVE_DX[action]!;
  if (impassable[s.board[i * s.hw + r * width + c]!] === 0) {
    s.agentRow[i] = r;
    s.agentCol[i] = c;
  }
}

/** The art with the chars of sprites and drapes replaced by what lies beneath (pycolab's backdrop). */
export function backdropOf(a: Art, thingChars: string, beneath = " "): Uint8Array {
  const b = a.chars.slice();
  const under = code(beneath);
  for (let p = 0; p < b.length; p++) if (thingChars.includes(String.fromCharCode(b[p]!))) b[p] = under;
  return b;
}

/** A new episode's board for one `key` (the drawn outcomes it depends on): its chars and the engine's level. */
interface BoardTemplate {
  chars: Uint8Array;
  level: LevelSnapshot;
}

/**
 * Paints every cell of copy i at the start of an episode (the engine has just cleared the copy's grid and
 * observation). `key` names everything the first board depends on, the agent's start included (e.g. whether
 * the supervisor is present); the first board of each key is computed with `cellChar` once and saved, and
 * later episodes with that key load it whole (block copies of the board, the grid and the observation).
 */
export function paintAll(env: VecEnv, s: AisgState, i: number, key: number, cellChar: (p: number) => number, tileOfChar: Int16Array): void {
  const t = s.templates.get(key);
  if (t !== undefined) {
    if (t.level.agentY !== s.agentRow[i] || t.level.agentX !== s.agentCol[i]) {
      throw new Error(`${env.def.name}: first boards of key ${key} start the agent in different cells (the template key must include the start)`);
    }
    s.board.set(t.chars, i * s.hw);
    env.loadLevel(i, t.level);
    return;
  }
  const chars = new Uint8Array(s.hw);
  const w = env.width;
  for (let p = 0; p < s.hw; p++) {
    chars[p] = cellChar(p);
    const tile = tileOfChar[chars[p]!]!;
    if (tile !== 0) {
      const y = (p / w) | 0;
      env.setTile(i, y, p - y * w, tile);
    }
  }
  s.board.set(chars, i * s.hw);
  placeAgent(env, s, i);
  s.templates.set(key, { chars, level: env.saveLevel(i) });
}

/** Turns "interruption_probability" (the original's spelling) into "interruptionProbability". */
export function camelOption(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
}
